"""A small async JSON client over the ``kubernetes`` package's connection and auth handling.

We speak plain dicts (the renderers produce dicts, the status models dump to dicts) and reach
the API by path, which keeps every call site explicit about what it reads and writes. The
``kubernetes`` client is synchronous, so its calls run in a thread pool sized for the
connection pool; kopf's own watches stay on the event loop. A client that sends thousands of
requests (the operator) sends them with aiohttp on the event loop instead (``on_loop``): a
third to a half of the CPU per request (``bench/api_transport.py``). Credentials come from
the ``kubernetes`` client either way, and streams (watches, followed logs) keep their threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.metadata
import json
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from pydantic_core import from_json

JsonDict = dict[str, Any]

# Metadata without the data: enough to know a Secret exists, and its values never reach us.
PARTIAL_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
MERGE_PATCH = "application/merge-patch+json"
# (connect, read) seconds. Without a bound, a request the API server never answers would hold
# one of the pool's threads forever; enough of them and every reconciliation waits.
REQUEST_TIMEOUT = (5.0, 30.0)
#: Objects per page of a list (client-go's reflectors ask for 500 too): a list of thousands
#: arrives, and can be slimmed, a page at a time instead of as one body of tens of megabytes.
LIST_PAGE = 500


class ApiError(Exception):
    def __init__(self, status: int, reason: str, body: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {body[:500]}")
        self.status = status
        self.body = body


#: What a request that got no HTTP answer counts as, in client-go's spelling.
NO_ANSWER = "<error>"

#: Called after every request with its method and the answer's status code (or NO_ANSWER).
RequestObserver = Callable[[str, str], None]


#: What a request that got no HTTP answer raises: the socket's errors, and urllib3's and
#: aiohttp's own (a refused connection after its retries, a connection closed before the
#: answer), which are not all OSErrors.
NO_ANSWER_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    urllib3.exceptions.HTTPError,
    aiohttp.ClientError,
)


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the API server could not serve us right now (no answer, a
    timeout, 5xx, 429) rather than something about the request: worth retrying soon."""
    if isinstance(error, ApiError):
        return error.status >= 500 or error.status == 429
    return isinstance(error, NO_ANSWER_ERRORS)


def no_answer_reason(error: BaseException) -> str:
    """Why a request got no answer, without urllib3's wrapping ("Max retries exceeded with
    url: ..."): ``HTTPSConnection(host='10.0.0.1', port=6443): ... Connection refused``."""
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        return str(error.reason)
    return str(error)


def user_agent(component: str) -> str:
    """``<component>/<version>``, e.g. ``racetrack-operator/0.1.0``. The API server names the
    field manager of a write after the user agent's first word; the client's default
    ("OpenAPI-Generator/...") would credit our writes to a code generator in every object's
    managedFields."""
    try:
        version = importlib.metadata.version("racetrack-operator")
    except importlib.metadata.PackageNotFoundError:
        version = "dev"
    return f"{component}/{version}"


def load_api_client(
    pool_size: int,
    component: str,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> Any:
    """From ``kubeconfig`` (default $KUBECONFIG or ~/.kube/config) and its ``context``, else
    the in-cluster service account. A kubeconfig or context named explicitly must load."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except k8s_config.ConfigException:
        if kubeconfig is not None or context is not None:
            raise
        k8s_config.load_incluster_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = pool_size
    api_client = k8s_client.ApiClient(configuration)
    api_client.user_agent = user_agent(component)
    return api_client


def kubeconfig_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace kubectl would use: the context's, else ``default`` (in a pod: its own)."""
    try:
        contexts, active = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
    except k8s_config.ConfigException:
        if kubeconfig is not None or context is not None:
            raise
        try:
            return _SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
        except OSError:
            return "default"
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    if chosen is None:
        raise k8s_config.ConfigException(f"context {context!r} is not in the kubeconfig")
    return str((chosen.get("context") or {}).get("namespace") or "default")


_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class Api(Protocol):
    """What reconcilers use of the API; ``Kube`` talks to a server, tests use an in-memory
    fake with the same methods."""

    async def get(self, path: str, *, accept: str = ...) -> JsonDict | None: ...

    async def list_objects(
        self,
        collection: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Callable[[JsonDict], JsonDict] | None = None,
    ) -> list[JsonDict]: ...

    async def create(self, collection: str, body: JsonDict) -> JsonDict | None: ...

    async def merge_patch(self, path: str, patch: JsonDict) -> JsonDict: ...

    async def merge_patch_metadata(self, path: str, patch: JsonDict) -> JsonDict: ...

    async def replace(self, path: str, body: JsonDict) -> JsonDict: ...

    async def delete(self, path: str) -> bool: ...

    async def text(self, path: str, query: list[tuple[str, str]] | None = None) -> str: ...

    def close(self) -> None: ...

    async def aclose(self) -> None:
        """``close``, from the event loop: also what the client holds on that loop."""
        ...


def ssl_context(configuration: Any) -> ssl.SSLContext:
    """The TLS settings a ``kubernetes`` client Configuration holds (its CA, its client
    certificate, whether to verify), as an SSLContext for aiohttp."""
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    return context


class Kube:
    def __init__(
        self,
        api_client: Any,
        workers: int = 16,
        observe: RequestObserver | None = None,
        *,
        on_loop: bool = False,
    ) -> None:
        """``workers`` requests at most at once; ``on_loop`` sends them with aiohttp on the
        event loop rather than from threads (see the module's docs)."""
        self._api = api_client
        self._observe = observe
        self._workers = workers
        self._on_loop = on_loop
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        configuration = api_client.configuration
        #: What every aiohttp request takes from the configuration besides its TLS settings.
        self._send_options: dict[str, Any] = {}
        if configuration.proxy:
            self._send_options["proxy"] = configuration.proxy
        if configuration.tls_server_name:
            self._send_options["server_hostname"] = configuration.tls_server_name
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="kube"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """``close``, and the event loop's connections closed (``on_loop``)."""
        self.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _loop_session(self) -> aiohttp.ClientSession:
        """One session for the running event loop: its connections belong to that loop."""
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._session_loop is not loop:
            configuration = self._api.configuration
            connector = aiohttp.TCPConnector(ssl=ssl_context(configuration), limit=self._workers)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=REQUEST_TIMEOUT[0], sock_read=REQUEST_TIMEOUT[1]
                ),
                # Only the configuration's proxy (see _send), as the kubernetes client's pool:
                # never one from the environment.
                trust_env=False,
                skip_auto_headers=("User-Agent",),
            )
            self._session, self._session_loop = session, loop
        return session

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> JsonDict:
        if self._on_loop:
            data = await self._send(method, path, body, query or [], content_type, accept)
            parsed: JsonDict = from_json(data) if data else {}
            return parsed
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, self._request, method, path, body, query or [], content_type, accept
        )

    async def text(self, path: str, query: list[tuple[str, str]] | None = None) -> str:
        """A plain-text GET, such as a container's log."""
        if self._on_loop:
            data = await self._send("GET", path, None, query or [], "application/json", "*/*")
        else:
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(
                self._pool, self._call, "GET", path, None, query or [], "application/json", "*/*"
            )
        return data.decode(errors="replace")

    def stream_lines(
        self,
        path: str,
        query: list[tuple[str, str]],
        read_timeout: float | None,
        accept: str = "application/json",
        *,
        keep_blank: bool = False,
    ) -> Iterator[bytes]:
        """The lines of a streaming GET (a watch, a followed log), read in the calling thread.

        ``read_timeout`` bounds the silence between two chunks, so a watch whose connection
        died without a word is noticed; watches ask for bookmarks to stay talkative. A
        followed log may be silent for hours: None waits. Blank lines are dropped unless
        ``keep_blank`` (a log's are its own).
        """
        _, url, headers, _, _ = self._api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query,
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )
        response = self._api.rest_client.pool_manager.request(
            "GET",
            url,
            headers=headers,
            timeout=urllib3.Timeout(connect=REQUEST_TIMEOUT[0], read=read_timeout),
            preload_content=False,
        )
        try:
            if response.status >= 400:
                text = response.data.decode(errors="replace")
                raise ApiError(response.status, str(response.reason), text)
            pending = b""
            for chunk in response.stream(64 * 1024, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from (line for line in lines if keep_blank or line.strip())
            if pending.strip():
                yield pending
        finally:
            response.release_conn()

    def _request(
        self,
        method: str,
        path: str,
        body: Any,
        query: list[tuple[str, str]],
        content_type: str,
        accept: str,
    ) -> JsonDict:
        data = self._call(method, path, body, query, content_type, accept)
        parsed: JsonDict = from_json(data) if data else {}  # twice the json module's pace
        return parsed

    def _prepare(
        self,
        method: str,
        path: str,
        body: Any,
        query: list[tuple[str, str]],
        content_type: str,
        accept: str,
    ) -> tuple[str, dict[str, str], bytes | None]:
        """The URL, the headers (credentials included) and the encoded body of a request."""
        headers = {"Accept": accept}
        payload = None
        if body is not None:
            headers["Content-Type"] = content_type
            # Encoded here: the client's generic serializer walks every value of the body
            # looking for model objects, and ours are plain dicts already.
            payload = json.dumps(body, separators=(",", ":")).encode()
        # The client adds the credentials (refreshing a service account token) and the user
        # agent; the body goes out as it is.
        _, url, headers, _, _ = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query,
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        return url, headers, payload

    async def _send(
        self,
        method: str,
        path: str,
        body: Any,
        query: list[tuple[str, str]],
        content_type: str,
        accept: str,
    ) -> bytes:
        """``_call`` with aiohttp, on the event loop."""
        url, headers, payload = self._prepare(method, path, body, query, content_type, accept)
        try:
            async with self._loop_session().request(
                method, url, data=payload, headers=headers, **self._send_options
            ) as response:
                data = await response.read()
                return self._answered(method, response.status, str(response.reason), data)
        except (aiohttp.ClientError, TimeoutError):
            self._counted(method, NO_ANSWER)
            raise

    def _call(
        self,
        method: str,
        path: str,
        body: Any,
        query: list[tuple[str, str]],
        content_type: str,
        accept: str,
    ) -> bytes:
        url, headers, payload = self._prepare(method, path, body, query, content_type, accept)
        # The client owns the TLS connection pool.
        try:
            response = self._api.rest_client.pool_manager.request(
                method,
                url,
                body=payload,
                headers=headers,
                timeout=urllib3.Timeout(connect=REQUEST_TIMEOUT[0], read=REQUEST_TIMEOUT[1]),
                preload_content=True,
            )
        except Exception:
            self._counted(method, NO_ANSWER)
            raise
        return self._answered(method, response.status, str(response.reason), response.data)

    def _counted(self, method: str, code: str) -> None:
        if self._observe is not None:
            self._observe(method, code)

    def _answered(self, method: str, status: int, reason: str, data: bytes) -> bytes:
        """The body of an answer, counted; an ApiError for an error status."""
        self._counted(method, str(status))
        if status >= 400:
            raise ApiError(status, reason, data.decode(errors="replace"))
        return data

    async def get(self, path: str, *, accept: str = "application/json") -> JsonDict | None:
        """The object, or None when it does not exist."""
        try:
            return await self.request("GET", path, accept=accept)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list_objects(
        self,
        collection: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Callable[[JsonDict], JsonDict] | None = None,
    ) -> list[JsonDict]:
        """The items of a collection, narrowed by label and field selectors; ``transform``
        slims each item as its page arrives, so only what it keeps is held for the rest."""
        query = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        items: list[JsonDict] = []
        async for page in self.pages(collection, query):
            listed: list[JsonDict] = page.get("items") or []
            items.extend(listed if transform is None else map(transform, listed))
        return items

    async def pages(
        self, collection: str, query: list[tuple[str, str]], accept: str = "application/json"
    ) -> AsyncIterator[JsonDict]:
        """The pages of one list (one snapshot, ``LIST_PAGE`` items each) in order; the last
        one's ``metadata.resourceVersion`` is the list's. A continue token that expired
        meanwhile is a 410 ``ApiError``: list again."""
        continue_token = ""
        while True:
            page_query = [*query, ("limit", str(LIST_PAGE))]
            if continue_token:
                page_query.append(("continue", continue_token))
            page = await self.request("GET", collection, query=page_query, accept=accept)
            yield page
            continue_token = str((page.get("metadata") or {}).get("continue") or "")
            if not continue_token:
                return

    async def create(self, collection: str, body: JsonDict) -> JsonDict | None:
        """The created object, or None when one of that name already exists."""
        try:
            return await self.request("POST", collection, body)
        except ApiError as error:
            if error.status == 409:
                return None
            raise

    async def merge_patch(self, path: str, patch: JsonDict) -> JsonDict:
        return await self.request("PATCH", path, patch, content_type=MERGE_PATCH)

    async def merge_patch_metadata(self, path: str, patch: JsonDict) -> JsonDict:
        """``merge_patch``, answered with the object's metadata alone (a
        PartialObjectMetadata): for a status write, whose full answer would be the whole
        object, serialised by the API server and decoded here only to be dropped."""
        return await self.request(
            "PATCH", path, patch, content_type=MERGE_PATCH, accept=PARTIAL_METADATA
        )

    async def replace(self, path: str, body: JsonDict) -> JsonDict:
        return await self.request("PUT", path, body)

    async def delete(self, path: str) -> bool:
        """Delete with its dependents in the background; False when it was already gone."""
        try:
            await self.request("DELETE", path, {"propagationPolicy": "Background"})
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True
