"""Where a session's files live, for every machine: a local directory (the default) or
S3-compatible object storage through boto3. Keys are `<session id>/<file name>`."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from storage.errors import StorageError
from storage.records import valid_session_id


def _key(session_id: str, name: str) -> str:
    if not valid_session_id(session_id) or Path(name).name != name or name in ("", ".", ".."):
        raise StorageError(f"Not a stored file: {session_id}/{name}.", code="FILE_NOT_FOUND")
    return f"{session_id}/{name}"


class FileStore(Protocol):
    """What the API, the workers and the bot need from the store."""

    def put_dir(self, session_id: str, folder: Path) -> None: ...
    def put(self, session_id: str, name: str, data: bytes) -> None: ...
    def get(self, session_id: str, name: str) -> bytes: ...
    def fetch_dir(self, session_id: str, dest: Path) -> Path: ...
    def names(self, session_id: str) -> list[str]: ...
    def local_path(self, session_id: str, name: str) -> Path | None: ...
    def url(self, session_id: str, name: str, expires_s: int = 3600) -> str | None: ...
    def delete(self, session_id: str) -> None: ...


@dataclass
class LocalStore:
    """`<root>/<session id>/<name>`; the job writes there directly, so put_dir of that very
    folder copies nothing."""

    root: Path

    def folder(self, session_id: str) -> Path:
        _key(session_id, "x")
        return self.root / session_id

    def put_dir(self, session_id: str, folder: Path) -> None:
        target = self.folder(session_id)
        if folder.resolve() == target.resolve():
            return
        target.mkdir(parents=True, exist_ok=True)
        for path in folder.iterdir():
            if path.is_file():
                shutil.copy2(path, target / path.name)

    def put(self, session_id: str, name: str, data: bytes) -> None:
        _key(session_id, name)
        target = self.folder(session_id)
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(target / name)

    def get(self, session_id: str, name: str) -> bytes:
        path = self.local_path(session_id, name)
        if path is None:
            raise StorageError(f"No file {name} in session {session_id}.", code="FILE_NOT_FOUND")
        return path.read_bytes()

    def fetch_dir(self, session_id: str, dest: Path) -> Path:
        """The session's own folder (nothing to copy on a local store)."""
        return self.folder(session_id)

    def names(self, session_id: str) -> list[str]:
        folder = self.folder(session_id)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name[0] != ".")

    def local_path(self, session_id: str, name: str) -> Path | None:
        _key(session_id, name)
        path = self.folder(session_id) / name
        return path if path.is_file() else None

    def url(self, session_id: str, name: str, expires_s: int = 3600) -> str | None:
        return None  # served by the API itself

    def delete(self, session_id: str) -> None:
        shutil.rmtree(self.folder(session_id), ignore_errors=True)


class S3Store:
    """A bucket on S3 or any S3-compatible server (`endpoint_url`), with presigned URLs."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str = "",
        access_key: str = "",
        secret_key: str = "",
        region: str = "us-east-1",
        prefix: str = "sessions",
        client: Any = None,
    ) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            region_name=region,
        )

    def _k(self, session_id: str, name: str) -> str:
        return f"{self.prefix}/{_key(session_id, name)}"

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_dir(self, session_id: str, folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                self.client.upload_file(str(path), self.bucket, self._k(session_id, path.name))

    def put(self, session_id: str, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._k(session_id, name), Body=data)

    def get(self, session_id: str, name: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._k(session_id, name))
        except ClientError:
            raise StorageError(
                f"No file {name} in session {session_id}.", code="FILE_NOT_FOUND"
            ) from None
        return obj["Body"].read()

    def names(self, session_id: str) -> list[str]:
        prefix = f"{self.prefix}/{_key(session_id, 'x')[:-1]}"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(
            obj["Key"].rsplit("/", 1)[-1] for page in pages for obj in page.get("Contents", [])
        )

    def fetch_dir(self, session_id: str, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        for name in self.names(session_id):
            self.client.download_file(self.bucket, self._k(session_id, name), str(dest / name))
        return dest

    def local_path(self, session_id: str, name: str) -> Path | None:
        return None

    def url(self, session_id: str, name: str, expires_s: int = 3600) -> str | None:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._k(session_id, name)},
            ExpiresIn=expires_s,
        )

    def delete(self, session_id: str) -> None:
        names = self.names(session_id)
        if names:
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._k(session_id, n)} for n in names]},
            )
