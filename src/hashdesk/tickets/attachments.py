"""Attachment checks and storage. The type is read from the file's first bytes, not trusted
from the browser; files are stored by content hash outside the web root."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from hashdesk.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia

MAX_FILES_PER_MESSAGE = 5
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def sniff_type(data: bytes) -> str | None:
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if b"\x00" not in data else None


def _safe_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name.strip() or "attachment"
    return "".join(ch if ch.isprintable() and ch not in '<>:"|?*' else "_" for ch in name)[:200]


def check_uploads(uploads: list[Upload], max_bytes: int) -> list[CheckedUpload]:
    if len(uploads) > MAX_FILES_PER_MESSAGE:
        raise InvalidInput(
            "At most {maximum} files per message.", field="files", maximum=MAX_FILES_PER_MESSAGE
        )
    checked = []
    for upload in uploads:
        if not upload.data:
            raise InvalidInput("{name} is empty.", field="files", name=_safe_name(upload.filename))
        if len(upload.data) > max_bytes:
            raise PayloadTooLarge(
                "{name} is larger than {limit} MB.",
                field="files",
                name=_safe_name(upload.filename),
                limit=max_bytes // (1024 * 1024),
            )
        content_type = sniff_type(upload.data)
        if content_type is None:
            raise UnsupportedMedia(
                "{name} is not an image (PNG, JPEG, GIF, WebP), a PDF or a text file.",
                field="files",
                name=_safe_name(upload.filename),
            )
        digest = hashlib.sha256(upload.data).hexdigest()
        checked.append(
            CheckedUpload(_safe_name(upload.filename), content_type, upload.data, digest)
        )
    return checked


def store(upload_dir: Path, upload: CheckedUpload) -> str:
    key = f"{upload.sha256[:2]}/{upload.sha256}"
    path = upload_dir / key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(upload.data)
        temporary.replace(path)
    return key
