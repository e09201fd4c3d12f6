"""The evidence vault: incidents and audit checkpoints shipped to S3 with Object Lock."""

from recorder.vault.uploader import VAULT, VaultUploader

__all__ = ["VAULT", "VaultUploader"]
