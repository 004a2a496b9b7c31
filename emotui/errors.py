"""Errors a user can fix. The CLI prints their message on one line and exits non-zero; no traceback."""


class EmotuiError(Exception):
    """Base of every error whose message is meant for the user."""

    exit_code = 1


class UsageError(EmotuiError):
    exit_code = 2


class LandmarkerModelError(EmotuiError):
    """The face_landmarker.task file is missing, truncated or not the expected one."""


class DatasetError(EmotuiError):
    """A dataset path that cannot be read as any supported layout."""


class ImageReadError(EmotuiError):
    """One image that OpenCV cannot decode (a per-item error, recorded and skipped in batch jobs)."""


class CheckpointError(EmotuiError):
    """A model directory that is missing, corrupt or incompatible."""


class SourceError(EmotuiError):
    """A camera, video, folder or stream that cannot be opened."""


class WriteError(EmotuiError):
    """A file that could not be written (a full disk, permissions); the previous version, if any, is kept."""
