"""What a mint makes, and how long making it (or any request the helper sends) may take.

:class:`Token` is what every provider's ``mint()`` returns and what the token cache
keeps. The time bounds are shared by the providers, the registry check and the Baseten
client: ``$DOCKER_CREDENTIAL_TRUSS_TIMEOUT`` bounds each request, and
:func:`run_within` bounds a whole exchange (every request, retry and backoff) with a
wall-clock alarm, because no docker client ever times a helper out. This module sits
below the providers and the cache and knows nothing of clouds.
"""

from __future__ import annotations

from docker_credential_truss import debuglog

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Protocol, TypeVar

    T = TypeVar("T")

    class Mints(Protocol):
        def mint(self) -> Token: ...


#: Seconds for each network request; no docker client times a helper out.
TIMEOUT_VARIABLE = "DOCKER_CREDENTIAL_TRUSS_TIMEOUT"
#: Token endpoints answer in well under a second; a dead one must fail a get within 5 s.
DEFAULT_TIMEOUT = 3.0
#: A whole mint (every request, retry and backoff) is abandoned after this many timeouts.
DEADLINE_FACTOR = 6


class Token:
    """A credential to hand to docker, and when it stops working (epoch seconds)."""

    __slots__ = ("expires_at", "secret", "username")

    def __init__(self, username: str, secret: str, expires_at: float | None = None) -> None:
        self.username = username
        self.secret = secret
        self.expires_at = expires_at

    def __repr__(self) -> str:  # never show the secret
        return f"Token(username={self.username!r}, expires_at={self.expires_at!r})"


def network_timeout(env: Mapping[str, str]) -> float | None:
    """``$DOCKER_CREDENTIAL_TRUSS_TIMEOUT`` in seconds (0 < t <= 300), or None when unset."""
    from docker_credential_truss.errors import ConfigError

    text = env.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 300:
        raise ConfigError(f"{TIMEOUT_VARIABLE} should be a number of seconds (0 to 300)")
    return value


def request_timeout(env: Mapping[str, str]) -> float:
    """The seconds each request may take: the variable's, else :data:`DEFAULT_TIMEOUT`."""
    return network_timeout(env) or DEFAULT_TIMEOUT


def minted(provider: Mints) -> Token:
    """``provider.mint()``, its secret registered for masking before anything can quote it.

    Every credential this process makes comes through here (through :func:`mint_within`
    where there is a network), so "no token in the log" is a property of this function.
    """
    token = provider.mint()
    debuglog.redact(token.secret)
    return token


def mint_within(provider: Mints, what: str, env: Mapping[str, str]) -> Token:
    """``provider.mint()``, abandoned after ``DEADLINE_FACTOR`` x the network timeout."""
    return run_within(lambda: minted(provider), what, env, "no credential")


def run_within(call: Callable[[], T], what: str, env: Mapping[str, str], missing: str) -> T:
    """``call()``, abandoned after ``DEADLINE_FACTOR`` x the network timeout.

    SDK timeouts bound each socket read, not a request: an endpoint that sends a byte
    per read timeout would hold docker forever. So the whole call runs under a wall-clock
    alarm (18 s by default). The alarm raises a BaseException, which no SDK's
    ``except Exception`` can swallow, and it becomes one ProviderError line here, saying
    ``<what>: <missing> within <n>s``.

    Name resolution is the exception an alarm cannot reach: ``getaddrinfo`` blocks in C
    (a silent DNS server holds it for the resolver's timeout x attempts, 10 s with
    glibc's defaults) and a Python signal handler runs only when it returns. So, for the
    duration of the call, ``socket.getaddrinfo`` (which every client here calls, through
    ``socket.create_connection`` or urllib3) resolves in a worker thread while this
    thread waits, interruptibly, for it: the alarm fires on time, and the worker is left
    to finish or die with the process.
    """
    import signal
    import socket
    import threading

    seconds = DEADLINE_FACTOR * request_timeout(env)
    if threading.current_thread() is not threading.main_thread():
        return call()  # alarms reach only the main thread; in-process tests

    def expire(signum: int, frame: object) -> None:
        raise _DeadlinePassed

    previous = signal.signal(signal.SIGALRM, expire)
    resolve = socket.getaddrinfo
    socket.getaddrinfo = _in_worker(resolve)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return call()
    except _DeadlinePassed:
        from docker_credential_truss.errors import ProviderError

        raise ProviderError(
            f"{what}: {missing} within {seconds:g}s; the endpoint is too slow"
            f" ({DEADLINE_FACTOR} x {TIMEOUT_VARIABLE})"
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        socket.getaddrinfo = resolve
        signal.signal(signal.SIGALRM, previous)


def _in_worker(resolve: Callable[..., T]) -> Callable[..., T]:
    """``resolve`` run in a daemon thread, waited for in a way a signal interrupts."""
    import threading

    def bounded(*args: object, **kwargs: object) -> T:
        done = threading.Event()
        outcome: list = []

        def work() -> None:
            try:
                outcome.append((True, resolve(*args, **kwargs)))
            except BaseException as exc:  # handed to the waiting thread as it is
                outcome.append((False, exc))
            done.set()

        threading.Thread(target=work, name="getaddrinfo", daemon=True).start()
        done.wait()  # the alarm's handler runs here, and its exception leaves the wait
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    return bounded


class _DeadlinePassed(BaseException):
    """Raised by the alarm; a BaseException so SDK error handling lets it through."""
