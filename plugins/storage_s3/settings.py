"""Settings of the storage_s3 plugin (``[plugins.storage_s3]`` in ``site.toml``)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from agorakit.settings import Secret, SettingsStruct

#: a key prefix: folder names of letters, digits, ``.``, ``_`` and ``-``, each ending in ``/``
#: (a missing last ``/`` is added)
_PREFIX = r"^([A-Za-z0-9_-][A-Za-z0-9._-]*/)*([A-Za-z0-9_-][A-Za-z0-9._-]*)?$"


class S3Settings(SettingsStruct, frozen=True):
    #: the bucket that keeps the files; required once ``[attachments] storage = "s3"``
    #: (start-up stops without it).  Keep it private: nothing in it is public.
    bucket: Annotated[str, msgspec.Meta(max_length=63, pattern=r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$")] = ""
    #: the S3 API's URL for an S3-compatible service (MinIO, SeaweedFS, Cloudflare R2,
    #: ...), e.g. "https://s3.example.com"; empty (the default): AWS S3 in ``region``
    endpoint_url: Annotated[str, msgspec.Meta(pattern=r"^(https?://[^/?#\s]+/?)?$")] = ""
    #: the bucket's region (default "us-east-1"; many S3-compatible services take any)
    region: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{1,40}$")] = "us-east-1"
    #: the access key; empty (the default) with an empty ``secret_access_key``: the
    #: process's AWS credentials (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, an
    #: instance or container role)
    access_key_id: Secret = ""
    #: its secret; write it as ``{ "$env" = "NAME" }`` to read it from the environment
    secret_access_key: Secret = ""
    #: the folder of the bucket the files go in, e.g. "attachments/" (default: the
    #: bucket's top); two sites may share a bucket with a prefix each
    prefix: Annotated[str, msgspec.Meta(max_length=200, pattern=_PREFIX)] = ""
    #: path-style addressing (``<endpoint>/<bucket>/<key>``) rather than virtual-hosted
    #: (``<bucket>.<endpoint>/<key>``); unset (the default): path-style with
    #: ``endpoint_url``, virtual-hosted on AWS.  With ``endpoint_url`` and ``path_style =
    #: false`` the endpoint URL names the bucket's own host.
    path_style: bool | None = None
    #: how downloads are served: "proxy" (the default) — the app reads the file from the
    #: bucket and sends it with its safe headers; "presigned" — the download route
    #: redirects (307) to a presigned GET URL of the bucket valid for ``presign_seconds``
    downloads: Literal["proxy", "presigned"] = "proxy"
    #: how long a presigned download URL works, in seconds (default 300, at most 3600)
    presign_seconds: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 300
    #: seconds one request to the bucket may take before it fails (default 30)
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0

    def __post_init__(self) -> None:
        if bool(self.access_key_id) != bool(self.secret_access_key):
            missing = "secret_access_key" if self.access_key_id else "access_key_id"
            message = f"set access_key_id and secret_access_key together ({missing} is empty)"
            raise ValueError(message)
