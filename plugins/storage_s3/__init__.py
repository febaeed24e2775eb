"""storage_s3: attachments kept in an S3 bucket (AWS S3 or an S3-compatible service).

Enable it with ``plugins = [..., "storage_s3"]``, select it with ``[attachments] storage =
"s3"``; settings in ``[plugins.storage_s3]`` (``bucket`` at least).  Downloads go through
the app (``downloads = "proxy"``) or redirect to a presigned URL (``"presigned"``).  A
site that had files in the ``local`` folder keeps serving them from there;
``agorakit attachments migrate --to s3`` moves them.  Needs the ``s3`` extra
(``pip install 'agorakit[s3]'``).  See ``docs/plugins/storage_s3.md``.
"""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.plugins.storage_s3.settings import S3Settings
from agorakit.plugins.storage_s3.storage import NAME, S3Storage
from agorakit.settings import SettingsSpec


@hookimpl
def agorakit_settings():

    return SettingsSpec(name=NAME, type=S3Settings)


@hookimpl
def agorakit_storages():

    return [S3Storage()]
