"""Product photography: background removal, product detection, 7 styles, logo, Cloudinary.

Modules import lazily-heavy dependencies (rembg, cloudinary, openai) only when used.
"""
