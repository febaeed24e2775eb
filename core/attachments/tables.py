"""Tables of the attachments area."""

from piccolo.columns import BigInt, Integer, Timestamptz, Varchar

from agorakit.db.table import Table


class Attachment(Table, tablename="core_attachment"):
    """One uploaded file: what it is, who sent it, what it belongs to, where it is kept."""

    uploaded_by = Integer(index=True, help_text="The member who uploaded it.")
    scope = Varchar(length=60, index=True, help_text="What it belongs to: order:<id> or conversation:<id>.")
    filename = Varchar(length=255, help_text="The client's file name, sanitised (display only).")
    content_type = Varchar(length=100, help_text="Media type detected from the content.")
    size = BigInt(help_text="Size in bytes.")
    sha256 = Varchar(length=64, help_text="SHA-256 of the content, hex.")
    storage = Varchar(length=40, help_text="Name of the storage that keeps it.")
    storage_key = Varchar(length=200, help_text="Random key of the file in that storage.")
    created_at = Timestamptz()
