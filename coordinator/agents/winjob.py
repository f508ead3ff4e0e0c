"""Windows: one job object per attempt, so that an agent's whole tree ends with the attempt or with the runner.

The job is created with ``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE``: Windows ends every process in it when the last
handle to the job closes, which happens when the runner closes it or when the runner process dies in any way
(even killed from the Task Manager). Children join their parent's job automatically and cannot leave it (no
breakaway is allowed), so ``TerminateJobObject`` at the end of an attempt reaches processes whose parent has
already exited, which ``taskkill /T`` cannot find.

The agent is assigned right after it was created: a process it starts in the first instant, before the
assignment, would escape the job (the agent is a ``.cmd`` wrapper or a program that takes far longer than that
to start anything). When a job cannot be made (very old Windows, a parent job that forbids nesting), the caller
falls back to ``taskkill /T /F``.

Everything here runs only on Windows; elsewhere :func:`contain` returns ``None``. It cannot be tested on Linux:
it must import there and pass ``mypy --platform win32``.
"""

from __future__ import annotations

import functools
import subprocess
import sys


class Job:
    """A job object holding one attempt's processes; :meth:`close` ends them (kill on close)."""

    def __init__(self, handle: int) -> None:
        self._handle: int | None = handle

    def terminate(self) -> None:
        """End every process in the job now (exit code 1); the job stays usable until :meth:`close`."""
        if sys.platform == "win32" and self._handle is not None:
            _kernel32().TerminateJobObject(self._handle, 1)

    def close(self) -> None:
        """Close the job's handle, which ends whatever is still in it; idempotent."""
        if sys.platform == "win32" and self._handle is not None:
            _kernel32().CloseHandle(self._handle)
        self._handle = None


def contain(proc: subprocess.Popen[bytes]) -> Job | None:
    """A kill-on-close job holding ``proc`` (and so everything it starts from now on), or ``None`` when that is
    not possible here (not Windows, or the calls failed)."""
    if sys.platform != "win32":
        return None
    return _contain_windows(proc.pid)


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9
    _JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
    _PROCESS_TERMINATE = 0x0001
    _PROCESS_SET_QUOTA = 0x0100

    class _IoCounters(ctypes.Structure):
        _fields_ = [
            ("ReadOperationCount", ctypes.c_ulonglong),
            ("WriteOperationCount", ctypes.c_ulonglong),
            ("OtherOperationCount", ctypes.c_ulonglong),
            ("ReadTransferCount", ctypes.c_ulonglong),
            ("WriteTransferCount", ctypes.c_ulonglong),
            ("OtherTransferCount", ctypes.c_ulonglong),
        ]

    class _BasicLimits(ctypes.Structure):
        _fields_ = [
            ("PerProcessUserTimeLimit", ctypes.c_int64),
            ("PerJobUserTimeLimit", ctypes.c_int64),
            ("LimitFlags", wintypes.DWORD),
            ("MinimumWorkingSetSize", ctypes.c_size_t),
            ("MaximumWorkingSetSize", ctypes.c_size_t),
            ("ActiveProcessLimit", wintypes.DWORD),
            ("Affinity", ctypes.c_size_t),
            ("PriorityClass", wintypes.DWORD),
            ("SchedulingClass", wintypes.DWORD),
        ]

    class _ExtendedLimits(ctypes.Structure):
        _fields_ = [
            ("BasicLimitInformation", _BasicLimits),
            ("IoInfo", _IoCounters),
            ("ProcessMemoryLimit", ctypes.c_size_t),
            ("JobMemoryLimit", ctypes.c_size_t),
            ("PeakProcessMemoryUsed", ctypes.c_size_t),
            ("PeakJobMemoryUsed", ctypes.c_size_t),
        ]

    @functools.cache
    def _kernel32() -> ctypes.WinDLL:
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.CreateJobObjectW.restype = wintypes.HANDLE
        kernel32.CreateJobObjectW.argtypes = [ctypes.c_void_p, wintypes.LPCWSTR]
        kernel32.SetInformationJobObject.restype = wintypes.BOOL
        kernel32.SetInformationJobObject.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD]
        kernel32.OpenProcess.restype = wintypes.HANDLE
        kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
        kernel32.AssignProcessToJobObject.restype = wintypes.BOOL
        kernel32.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
        kernel32.TerminateJobObject.restype = wintypes.BOOL
        kernel32.TerminateJobObject.argtypes = [wintypes.HANDLE, wintypes.UINT]
        kernel32.CloseHandle.restype = wintypes.BOOL
        kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
        return kernel32

    def _contain_windows(pid: int) -> Job | None:
        kernel32 = _kernel32()
        job = kernel32.CreateJobObjectW(None, None)  # not inheritable: only the runner holds it
        if not job:
            return None
        limits = _ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = _JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        process = kernel32.OpenProcess(_PROCESS_SET_QUOTA | _PROCESS_TERMINATE, False, pid)
        assigned = bool(
            process
            and kernel32.SetInformationJobObject(
                job, _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS, ctypes.byref(limits), ctypes.sizeof(limits)
            )
            and kernel32.AssignProcessToJobObject(job, process)
        )
        if process:
            kernel32.CloseHandle(process)
        if not assigned:
            kernel32.CloseHandle(job)  # empty: closing it ends nothing
            return None
        return Job(int(job))

else:

    def _kernel32() -> None:  # pragma: no cover - never called off Windows
        return None

    def _contain_windows(pid: int) -> Job | None:
        return None
