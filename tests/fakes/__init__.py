"""Every fake server the tests start on 127.0.0.1, in one place: the Telegram Bot API, OpenAI,
Gemini, Cloudinary and the hashtag sites. Each is driven by its real client library."""
