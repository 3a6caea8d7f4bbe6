"""Files: uploads, private files behind signed URLs, public files by plain URL.

Domains use only these functions: register who may read files attached to their records, attach an upload to a
record, and build the URL a caller should get. They never import the model.
"""

from app.files.services import (
    attach,
    describe_file,
    file_url,
    files_of,
    get_file,
    public_url,
    register_owner_kind,
    signed_url,
)

__all__ = [
    "attach",
    "describe_file",
    "file_url",
    "files_of",
    "get_file",
    "public_url",
    "register_owner_kind",
    "signed_url",
]
