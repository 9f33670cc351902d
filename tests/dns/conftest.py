"""A tiny authoritative DNS server on loopback for the ``dns check`` tests, built on dnspython's message parsing.

It answers TXT queries from a dict (name -> TXT values), MX queries from another (name ->
``"<preference> <host>"``) and CNAME queries from a third (name -> target), NXDOMAIN for names in none, and
can be told to answer SERVFAIL or stay silent for chosen names (to exercise time-outs).
No test here (the directory has no ``__init__``: a package named ``dns`` would shadow dnspython).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.TXT
import pytest


class LoopbackDnsServer:
    """Serves ``zone`` over UDP on 127.0.0.1 and an ephemeral port until :meth:`stop`.

    A value longer than 255 octets is split into several character-strings, as a real zone holds it.
    A name mapped to an empty list exists but has no TXT record (NOERROR, empty answer).
    """

    def __init__(
        self,
        zone: Mapping[str, Sequence[str]],
        *,
        servfail: Iterable[str] = (),
        silent: Iterable[str] = (),
        mx: Mapping[str, Sequence[str]] | None = None,
        cname: Mapping[str, str] | None = None,
    ) -> None:
        self.zone = {name.lower().rstrip("."): list(values) for name, values in zone.items()}
        self.mx = {name.lower().rstrip("."): list(values) for name, values in (mx or {}).items()}
        self.cname = {name.lower().rstrip("."): target for name, target in (cname or {}).items()}
        self.servfail = {name.lower().rstrip(".") for name in servfail}
        self.silent = {name.lower().rstrip(".") for name in silent}
        self.queries: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.05)  # how often the loop notices stop(); no test waits on it
        self.port: int = self._socket.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="loopback-dns", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, client = self._socket.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue  # a garbled datagram is dropped, as a real server would
            response = self._respond(query)
            if response is not None:
                self._socket.sendto(response.to_wire(), client)

    def _respond(self, query: dns.message.Message) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        if name in self.silent:
            return None
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        if name not in self.zone and name not in self.mx and name not in self.cname:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        if question.rdtype == dns.rdatatype.CNAME and name in self.cname:
            rrset = response.find_rrset(
                response.answer, question.name, dns.rdataclass.IN, dns.rdatatype.CNAME, create=True
            )
            target = dns.name.from_text(self.cname[name])
            rrset.add(dns.rdtypes.ANY.CNAME.CNAME(dns.rdataclass.IN, dns.rdatatype.CNAME, target), ttl=300)
        if question.rdtype == dns.rdatatype.MX and self.mx.get(name):
            rrset = response.find_rrset(
                response.answer, question.name, dns.rdataclass.IN, dns.rdatatype.MX, create=True
            )
            for value in self.mx[name]:
                preference, _, host = value.partition(" ")
                exchange = dns.name.from_text(host)
                rrset.add(
                    dns.rdtypes.ANY.MX.MX(dns.rdataclass.IN, dns.rdatatype.MX, int(preference), exchange), ttl=300
                )
        if question.rdtype == dns.rdatatype.TXT and self.zone.get(name):
            rrset = response.find_rrset(
                response.answer, question.name, dns.rdataclass.IN, dns.rdatatype.TXT, create=True
            )
            for value in self.zone[name]:
                encoded = value.encode()
                strings = [encoded[i : i + 255] for i in range(0, len(encoded), 255)] or [b""]
                rrset.add(dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings), ttl=300)
        return response


StartDnsServer = Callable[..., LoopbackDnsServer]


@pytest.fixture
def dns_server() -> Iterator[StartDnsServer]:
    """Start loopback DNS servers: ``dns_server(zone, servfail=..., silent=..., mx=..., cname=...)``; stopped after."""
    started: list[LoopbackDnsServer] = []

    def start(
        zone: Mapping[str, Sequence[str]],
        *,
        servfail: Iterable[str] = (),
        silent: Iterable[str] = (),
        mx: Mapping[str, Sequence[str]] | None = None,
        cname: Mapping[str, str] | None = None,
    ) -> LoopbackDnsServer:
        server = LoopbackDnsServer(zone, servfail=servfail, silent=silent, mx=mx, cname=cname)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
