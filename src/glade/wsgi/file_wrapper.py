"""wsgi.file_wrapper: lets the worker send a file with os.sendfile."""

from __future__ import annotations


class FileWrapper:
    """Iterates a file in blocks; the response writer sends it with sendfile when it can."""

    def __init__(self, filelike, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.block_size = block_size
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        size = self.block_size
        while True:
            block = read(size)
            if not block:
                return
            yield block
