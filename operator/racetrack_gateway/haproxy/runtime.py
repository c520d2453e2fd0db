"""HAProxy's runtime API (the stats socket at level admin), over one session per batch.

A batch is sent in interactive mode (``prompt``): HAProxy answers each command in turn and
ends every answer with a ``> `` prompt, so many commands share one connection and one
round of reads. Commands go out in chunks that stay under HAProxy's request buffer, and
the answers of a chunk are read before the next one is sent, so neither side can block the
other. Map payloads (``add map ... <<``) carry keys and values verbatim; words in ordinary
commands are escaped with ``escape``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

PROMPT = b"\n> "
#: Bytes of commands sent before their answers are read (HAProxy reads at most its buffer,
#: 16 kB, per command line; a payload command is one "line").
CHUNK_BYTES = 12_000
#: Bytes of payload lines in one ``add map`` (each payload must fit HAProxy's buffer).
PAYLOAD_BYTES = 12_000


class RuntimeApiError(Exception):
    """The socket could not be reached or did not answer in time."""


def escape(word: str) -> str:
    r"""A word of a runtime command: ``\``, ``;`` and blanks escaped with a backslash (a word
    can never hold a line break: callers refuse those)."""
    out = []
    for char in word:
        if char in "\\; \t":
            out.append("\\")
        out.append(char)
    return "".join(out)


def payloads(command: str, lines: Sequence[str]) -> list[str]:
    """``command <<`` commands carrying ``lines``, each payload small enough for HAProxy."""
    out: list[str] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) + 1 > PAYLOAD_BYTES:
            out.append(f"{command} <<\n" + "\n".join(chunk))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        out.append(f"{command} <<\n" + "\n".join(chunk))
    return out


class Runtime:
    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    async def run(self, commands: Sequence[str]) -> list[str]:
        """Run ``commands`` in order on one session; their answers, stripped."""
        if not commands:
            return []
        try:
            async with asyncio.timeout(self.timeout):
                return await self._session(commands)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            raise RuntimeApiError(
                f"HAProxy's runtime socket {self.socket_path}: {error!r}"
            ) from error

    async def one(self, command: str) -> str:
        return (await self.run([command]))[0]

    async def info(self) -> dict[str, str]:
        """``show info`` as a mapping (``Pid``, ``Uptime_sec``, ...)."""
        answer = await self.one("show info")
        fields = (line.partition(": ") for line in answer.splitlines())
        return {name: value for name, _, value in fields if name}

    async def answers(self) -> bool:
        with contextlib.suppress(RuntimeApiError):
            await self.info()
            return True
        return False

    async def _session(self, commands: Sequence[str]) -> list[str]:
        reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        try:
            writer.write(b"prompt\n")
            pending = bytearray()
            await _read_answers(reader, 1, pending)
            out: list[str] = []
            index = 0
            while index < len(commands):
                batch: list[bytes] = []
                size = 0
                while index < len(commands) and (not batch or size < CHUNK_BYTES):
                    data = _line(commands[index]).encode()
                    batch.append(data)
                    size += len(data)
                    index += 1
                writer.write(b"".join(batch))
                await writer.drain()
                out += await _read_answers(reader, len(batch), pending)
            writer.write(b"quit\n")
            return out
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _line(command: str) -> str:
    """A command as sent: one line, or a payload command ended by an empty line."""
    command = command.rstrip("\n")
    return command + ("\n\n" if "<<\n" in command else "\n")


async def _read_answers(reader: asyncio.StreamReader, count: int, pending: bytearray) -> list[str]:
    answers: list[str] = []
    while len(answers) < count:
        end = pending.find(PROMPT)
        if end < 0:
            data = await reader.read(65536)
            if not data:
                raise asyncio.IncompleteReadError(bytes(pending), None)
            pending += data
            continue
        text = pending[:end].decode(errors="replace")
        del pending[: end + len(PROMPT)]
        while text.startswith("+ "):  # one prompt per payload line
            text = text[2:]
        answers.append(text.strip())
    return answers
