"""Data files: niche taxonomy + hashtag knowledge base, banned tags, caption templates."""
