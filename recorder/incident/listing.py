"""`recorder incidents list`: what incident files this room holds, without decrypting them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from recorder.config import RoomConfig
from recorder.retention import hold_marker


def list_incidents(config: RoomConfig, as_json: bool) -> int:
    rows: list[dict[str, Any]] = []
    for path in config.storage.incident_files():
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        age_days = (datetime.now(UTC) - modified).total_seconds() / 86400
        rows.append(
            {
                "incident": path.stem,
                "file": str(path),
                "bytes": stat.st_size,
                "modified": modified.isoformat(timespec="seconds"),
                "age_days": round(age_days, 2),
                "expires_in_days": round(config.storage.retention_days - age_days, 2),
                "legal_hold": hold_marker(path).exists(),
            }
        )
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print(f"no incidents in {config.storage.directory}")
        return 0
    print(f"{'incident':<40} {'MiB':>8} {'modified (UTC)':<26} {'expires in':>10}")
    for row in rows:
        mib = float(row["bytes"]) / 2**20
        expires = "on hold" if row["legal_hold"] else f"{row['expires_in_days']:>8.1f} d"
        print(f"{row['incident']:<40} {mib:>8.1f} {row['modified']:<26} {expires:>10}")
    return 0
