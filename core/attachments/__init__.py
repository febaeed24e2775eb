"""Attachments: files members upload to an order or a conversation.

A file is checked (size, type read from its content), kept by the site's storage
(``[attachments] storage``; the core ships ``local``) under a random key, and described by
a ``core_attachment`` row.  Only the parties of its scope (``order:<id>`` or
``conversation:<id>``) and operators can read it.
"""
