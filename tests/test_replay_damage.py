"""Damaged and crafted replay files (issue 27, item 7): every one gives a ``ReplayError`` whose
message starts with the file's path and says what is wrong, or loads as exactly the replay that
was written (a flipped bit in a zip timestamp changes nothing) -- never ``zlib.error``,
``KeyError``, ``AttributeError``, numpy's ``ValueError`` or a hang.

The crafted cases are what fuzzing the reader found (truncations, bit flips, wrong keys, dtypes
and shapes, forged zip and ``.npy`` headers, foreign archives); the default suite runs a sample
of the truncations and bit flips, the ``slow`` run all of them.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from bad_input import deadline
from hypothesis import given, settings
from hypothesis import strategies as st

from spawnzoo.cli import main
from spawnzoo.envs.core.recording import run_episode
from spawnzoo.envs.core.replay import (
    REPLAY_VERSION,
    Replay,
    ReplayError,
    ReplayVersionError,
    replay_metrics,
)


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> tuple[Replay, bytes]:
    """A short 2-player harvest replay (robots built, moving, digging) and its file's bytes."""
    episode = run_episode("harvest-v0", "random", seed=5, preset="tiny", players=2, max_steps=16)
    path = episode.replay.save(tmp_path_factory.mktemp("replay") / "good.replay.npz")
    return episode.replay, path.read_bytes()


def same_replay(a: Replay, b: Replay) -> bool:
    return (
        (a.env_id, a.seed, a.settings, a.metrics, a.policy)
        == (b.env_id, b.seed, b.settings, b.metrics, b.policy)
        and a.actions.shape == b.actions.shape
        and bool((a.actions == b.actions).all())
    )


def load_or_refuse(path: Path, written: Replay) -> ReplayError | None:
    """Load ``path``: it must give back ``written`` exactly or a ``ReplayError`` starting with
    the path (any other exception fails the test). Returns the error, if any."""
    try:
        with deadline(20):
            loaded = Replay.load(path)
    except ReplayError as err:
        assert str(err).startswith(str(path)), str(err)
        assert "\n" not in str(err).strip()
        return err
    assert same_replay(loaded, written), "a damaged file loaded as another replay"
    return None


# ------------------------------------------------------------------- truncations, bit flips
def test_every_truncation_is_refused(original, tmp_path):
    written, data = original
    path = tmp_path / "cut.replay.npz"
    for size in range(0, len(data), 7):
        path.write_bytes(data[:size])
        assert load_or_refuse(path, written) is not None, size


def test_sampled_single_bit_flips_are_refused_or_harmless(original, tmp_path):
    """CRC-32 catches every single-bit error in a member, so a flip either is refused or hit
    zip bookkeeping that does not matter (timestamps, 'version made by')."""
    written, data = original
    rng = random.Random(27)
    path = tmp_path / "flipped.replay.npz"
    refused = 0
    for _ in range(150):
        pos, bit = rng.randrange(len(data)), rng.randrange(8)
        flipped = bytearray(data)
        flipped[pos] ^= 1 << bit
        path.write_bytes(bytes(flipped))
        refused += load_or_refuse(path, written) is not None
    assert refused > 100  # most of a replay file is compressed data


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_overwritten_bytes_are_refused_or_harmless(original, tmp_path_factory, data):
    written, raw = original
    pos = data.draw(st.integers(0, len(raw) - 1))
    junk = data.draw(st.binary(min_size=1, max_size=16))
    damaged = raw[:pos] + junk + raw[pos + len(junk) :]
    path = tmp_path_factory.mktemp("overwrite") / "x.replay.npz"
    path.write_bytes(damaged[: len(raw)])
    load_or_refuse(path, written)


@pytest.mark.slow
def test_every_single_bit_flip_is_refused_or_harmless(original, tmp_path):
    written, data = original
    path = tmp_path / "flipped.replay.npz"
    for pos in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[pos] ^= 1 << bit
            path.write_bytes(bytes(flipped))
            load_or_refuse(path, written)


# ---------------------------------------------------------------------------- crafted files
def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def header(written: Replay, **changes) -> np.ndarray:
    """The header ``save`` writes for ``written``, with some fields changed (``...``: removed)."""
    meta = {
        "format": "spawnzoo-replay",
        "version": REPLAY_VERSION,
        "env_id": written.env_id,
        "settings": written.settings,
        "seed": written.seed,
        "steps": written.steps,
        "num_slots": int(written.actions.shape[1]),
        "metrics": written.metrics,
        "policy": written.policy,
        "spawnzoo": "0.1.0",
    }
    meta.update(changes)
    return np.array(json.dumps({k: v for k, v in meta.items() if v is not ...}))


def patch_central_directory(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of every central-directory entry of a zip (``offset`` from the
    entry's signature)."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos >= 0:
        struct.pack_into(fmt, out, pos + offset, value)
        pos = out.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


def forged_npy(shape: tuple[int, ...]) -> bytes:
    """A ``.npy`` member whose header claims ``shape`` uint8 and which holds no data."""
    head = repr({"descr": "|u1", "fortran_order": False, "shape": shape}).encode()
    head += b" " * (63 - (len(head) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head


def zip_members(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    return buf.getvalue()


def npy(array: np.ndarray, version=(1, 0)) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def crafted_cases(written: Replay, data: bytes) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, words the error must contain)."""
    a = written.actions.astype(np.uint8)
    h = header(written)
    meta_npy = npy(h)
    return {
        # not a replay at all
        "empty": (b"", "not a readable spawnzoo replay"),
        "text": (b"hello, replay", "not a readable spawnzoo replay"),
        "plain-npy": (npy(a), "not a readable spawnzoo replay"),
        "empty-zip": (zip_members(), "it has no meta.npy or actions.npy"),
        "foreign-npz": (npz(x=np.zeros(3)), "it has no meta.npy or actions.npy"),
        "meta-only": (npz(meta=h), "it has no actions.npy"),
        "actions-only": (npz(actions=a), "it has no meta.npy"),
        # forged zip and .npy headers
        "unknown-compression": (
            patch_central_directory(data, 10, "<H", 99),
            "NotImplementedError",
        ),
        "encrypted-flag": (patch_central_directory(data, 8, "<H", 1), "encrypted"),
        "huge-declared-size": (
            patch_central_directory(data, 24, "<I", 2**32 - 1),
            "more than a replay's",
        ),
        "forged-npy-shape": (
            zip_members(**{"meta.npy": meta_npy, "actions.npy": forged_npy((10**6, 10**6))}),
            "header claims",
        ),
        "npy-version-3": (
            zip_members(**{"meta.npy": meta_npy, "actions.npy": npy(a, (3, 0))}),
            "format version (3, 0)",
        ),
        "object-actions": (
            zip_members(
                **{"meta.npy": meta_npy, "actions.npy": npy(np.array([[None]], dtype=object))}
            ),
            "allow_pickle",
        ),
        # the header
        "meta-int": (npz(meta=np.array(3), actions=a), "not a JSON string"),
        "meta-1d": (npz(meta=np.array([str(h)]), actions=a), "not a JSON string"),
        "meta-bytes": (npz(meta=np.array(str(h).encode()), actions=a), "not a JSON string"),
        "meta-not-json": (npz(meta=np.array("{nope"), actions=a), "JSONDecodeError"),
        "meta-deep": (npz(meta=np.array("[" * 100_000), actions=a), "RecursionError"),
        "meta-list": (npz(meta=np.array("[1, 2]"), actions=a), "not a spawnzoo replay"),
        "other-format": (npz(meta=header(written, format="x"), actions=a), "not a spawnzoo"),
        "no-env-id": (npz(meta=header(written, env_id=...), actions=a), "lacks ['env_id']"),
        "steps-text": (npz(meta=header(written, steps="x"), actions=a), "steps must be an"),
        "steps-negative": (npz(meta=header(written, steps=-1), actions=a), "steps must be an"),
        "slots-bool": (npz(meta=header(written, num_slots=True), actions=a), "num_slots must"),
        "steps-mismatch": (
            npz(meta=header(written, steps=written.steps + 1), actions=a),
            "actions have shape",
        ),
        "env-id-int": (npz(meta=header(written, env_id=3), actions=a), "env_id must be a str"),
        "seed-text": (npz(meta=header(written, seed="abc"), actions=a), "seed must be an"),
        "seed-float": (npz(meta=header(written, seed=1.5), actions=a), "seed must be an"),
        "seed-null": (npz(meta=header(written, seed=None), actions=a), "seed must be an"),
        "seed-negative": (npz(meta=header(written, seed=-1), actions=a), "seed must be an"),
        "settings-list": (npz(meta=header(written, settings=[1]), actions=a), "settings must be"),
        "metrics-list": (npz(meta=header(written, metrics=[1]), actions=a), "metrics must be"),
        "metrics-text": (
            npz(meta=header(written, metrics={"episode_length": "long"}), actions=a),
            "episode_length must be a number",
        ),
        "metrics-no-players": (
            npz(meta=header(written, metrics={"per_player": []}), actions=a),
            "per_player must be a non-empty list",
        ),
        "metrics-bad-row": (
            npz(meta=header(written, metrics={"per_player": [{"x": "y"}]}), actions=a),
            "per_player rows must be dicts of numbers",
        ),
        "policy-int": (npz(meta=header(written, policy=3), actions=a), "policy must be a name"),
        "version-text": (npz(meta=header(written, version="1"), actions=a), "version 1 replay"),
        "version-true": (npz(meta=header(written, version=True), actions=a), "version True"),
        # the actions
        "actions-float": (npz(meta=h, actions=a.astype(float)), "not [T, S] ints"),
        "actions-bool": (npz(meta=h, actions=a.astype(bool)), "not [T, S] ints"),
        "actions-text": (npz(meta=h, actions=a.astype(str)), "not [T, S] ints"),
        "actions-1d": (npz(meta=h, actions=a.ravel()), "not [T, S] ints"),
        "actions-3d": (npz(meta=h, actions=a[..., None]), "not [T, S] ints"),
        "actions-0d": (npz(meta=h, actions=np.array(3)), "not [T, S] ints"),
        "actions-negative": (npz(meta=h, actions=-a.astype(np.int16) - 1), "actions must be >= 0"),
        "actions-too-large": (npz(meta=h, actions=a.astype(np.int16) + 300), "does not fit"),
        # what the replay asks of its env
        "env-unknown": (npz(meta=header(written, env_id="nope-v0"), actions=a), "unknown env"),
        "slots-other": (
            npz(meta=header(written, num_slots=3), actions=a[:, :3]),
            "does not fit harvest-v0",
        ),
        "too-many-steps": (
            npz(
                meta=header(written, steps=65),
                actions=np.zeros((65, a.shape[1]), np.uint8),
            ),
            "more than the env's max_cycles (64)",
        ),
        "settings-hang": (  # looped forever in map generation before settings were checked
            npz(meta=header(written, settings={"preset": "tiny", "ice_density": 2.0}), actions=a),
            "ice_density must be a real number in [0, 0.5], got 2.0",
        ),
        "settings-unknown": (
            npz(meta=header(written, settings={"preset": "tiny", "colour": 1}), actions=a),
            "unknown harvest setting(s) ['colour']",
        ),
        "settings-preset": (
            npz(meta=header(written, settings={"preset": "huge"}), actions=a),
            "unknown preset 'huge'",
        ),
        "settings-render-mode": (
            npz(meta=header(written, settings={"render_mode": "human"}), actions=a),
            "must not hold render_mode",
        ),
        "settings-no-room": (
            npz(
                meta=header(
                    written,
                    env_id="skirmish-v0",
                    num_slots=20,
                    settings={"map_size": 8, "bases_per_player": 2, "capture_points": 2},
                ),
                actions=np.zeros((written.steps, 20), np.uint8),
            ),
            "its settings draw no map: could not place 2 bases",
        ),
    }


def _case_names() -> list[str]:
    dummy = Replay("harvest-v0", 0, np.zeros((1, 1), np.int64))
    return list(crafted_cases(dummy, zip_members(x=b"")))


@pytest.mark.parametrize("name", _case_names())
def test_crafted_files_are_refused_naming_the_file_and_the_problem(original, tmp_path, name):
    written, data = original
    blob, words = crafted_cases(written, data)[name]
    path = tmp_path / f"{name}.replay.npz"
    path.write_bytes(blob)
    err = load_or_refuse(path, written)
    assert err is not None, "a crafted file loaded"
    assert words in str(err), str(err)


def test_a_wrong_version_is_a_version_error(original, tmp_path):
    written, _ = original
    path = tmp_path / "future.replay.npz"
    path.write_bytes(npz(meta=header(written, version=2), actions=written.actions.astype(np.uint8)))
    with pytest.raises(ReplayVersionError, match="is a version 2 replay"):
        Replay.load(path)


def test_the_original_loads_and_replays(original, tmp_path):
    written, data = original
    path = tmp_path / "good.replay.npz"
    path.write_bytes(data)
    loaded = Replay.load(path)
    assert same_replay(loaded, written)
    assert replay_metrics(loaded) == written.metrics


# --------------------------------------------------------------------------- the command line
@pytest.mark.parametrize("name", ["encrypted-flag", "settings-hang", "metrics-no-players"])
def test_spawnzoo_replay_prints_one_line_and_exits_non_zero(original, tmp_path, capsys, name):
    written, data = original
    blob, words = crafted_cases(written, data)[name]
    path = tmp_path / f"{name}.replay.npz"
    path.write_bytes(blob)
    with deadline(20), pytest.raises(SystemExit) as exit_:
        main(["replay", str(path), "--out", str(tmp_path / "x.gif"), "--no-progress"])
    message = str(exit_.value.code)
    assert message.startswith(str(path)) and words in message and "\n" not in message
    assert capsys.readouterr().out == ""
