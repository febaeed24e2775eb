"""Catalog: categories and qualifications, listings and moderation, browse and search."""
