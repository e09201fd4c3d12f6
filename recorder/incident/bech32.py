"""Bech32 (BIP-173) as age uses it: no length limit, one case throughout, checksum over lowercase."""

from __future__ import annotations

from recorder.messages import _

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATORS):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc, bits, out = 0, 0, []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (to_bits - bits)) & maxv)
    elif not pad and (bits >= from_bits or (acc << (to_bits - bits)) & maxv):
        raise ValueError(_("bech32: invalid padding"))
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode `data` under `hrp`; the result has the case of `hrp` (which must not be mixed)."""
    if hrp.lower() != hrp and hrp.upper() != hrp:
        raise ValueError(_("bech32: mixed-case human-readable part"))
    values = _convert_bits(data, 8, 5, pad=True)
    poly = _polymod([*_hrp_expand(hrp.lower()), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    text = hrp.lower() + "1" + "".join(CHARSET[v] for v in values + checksum)
    return text.upper() if hrp.upper() == hrp and hrp.lower() != hrp else text


def decode(text: str) -> tuple[str, bytes]:
    """Return (hrp, data) with the hrp in the case it was written. Raises ValueError if malformed."""
    if text.lower() != text and text.upper() != text:
        raise ValueError(_("bech32: mixed case"))
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise ValueError(_("bech32: separator misplaced or checksum too short"))
    hrp, lower = text[:pos], text.lower()
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise ValueError(_("bech32: invalid character in human-readable part"))
    if any(c not in CHARSET for c in lower[pos + 1 :]):
        raise ValueError(_("bech32: invalid character in data part"))
    values = [CHARSET.index(c) for c in lower[pos + 1 :]]
    if _polymod([*_hrp_expand(lower[:pos]), *values]) != 1:
        raise ValueError(_("bech32: checksum mismatch"))
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, pad=False))
