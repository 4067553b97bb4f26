"""socialopt: one photo in, ready-to-post content for every platform out."""
