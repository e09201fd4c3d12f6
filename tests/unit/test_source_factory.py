"""The factory builds camera and microphone sources from the config without opening any device."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from recorder.clock import ManualClock
from recorder.config import parse_config
from recorder.errors import ConfigError
from recorder.incident.age_keys import Identity
from recorder.sources.camera import CameraSource
from recorder.sources.factory import build_sources
from recorder.sources.microphone import MicrophoneSource

RECIPIENT = str(Identity.generate().recipient)


def _config(video: dict[str, Any], audio: dict[str, Any]) -> Any:
    return parse_config(
        {
            "room": "r1",
            "video": video,
            "audio": audio,
            "control": {"server_secret_key": "k", "authorized_clients": "c"},
            "storage": {"directory": "s", "recipients": [RECIPIENT]},
        },
        Path("/tmp"),
    )


def test_devices_are_built_but_not_opened() -> None:
    config = _config({"source": "camera", "device": "rtsp://cam/1"}, {"source": "microphone", "device": "2"})
    threads = threading.active_count()
    sources = build_sources(config, ManualClock(), lambda *_: None)
    assert [type(s) for s in sources] == [CameraSource, MicrophoneSource]
    assert [s.name for s in sources] == ["camera", "microphone"]
    assert threading.active_count() == threads


def test_no_media_gives_no_sources() -> None:
    config = _config({"source": "none"}, {"source": "none"})
    assert build_sources(config, ManualClock(), lambda *_: None) == []


@pytest.mark.parametrize(
    ("video", "audio", "where"),
    [
        ({"source": "camera"}, {}, "video.device is required"),
        ({"reconnect_initial_s": 5, "reconnect_max_s": 1}, {}, "video.reconnect_max_s"),
        ({}, {"reconnect_initial_s": 5, "reconnect_max_s": 1}, "audio.reconnect_max_s"),
        ({}, {"timestamps": "wall"}, "audio.timestamps"),
        ({}, {"blocksize": 10}, "audio.blocksize"),
        ({"read_timeout_s": 0}, {}, "video.read_timeout_s"),
    ],
)
def test_bad_device_settings_are_refused(video: dict[str, Any], audio: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        _config(video, audio)
