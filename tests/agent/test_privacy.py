"""The privacy promise: a whole recommend works with every non-loopback connection refused."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import replace

import pytest

from agent.session import Moodtune
from catalog.store import CatalogStore

attempts: list[object] = []


@pytest.fixture
def offline(monkeypatch):
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                attempts.append(address)
                raise OSError(f"network disabled by test: {address}")
        return real_connect(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost", "127.0.0.1", "::1"):
            attempts.append(host)
            raise socket.gaierror(f"network disabled by test: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    attempts.clear()
    yield attempts


def _catalog(settings, track_factory):
    store = CatalogStore.open(settings)
    store.upsert([track_factory(f"t{i}", mood=m, genre=g, artist=f"A{i}") for i, (m, g) in
                  enumerate([("calm", "jazz"), ("sad", "blues"), ("happy", "pop"), ("energetic", "rock")])])
    return store


def test_recommend_with_the_network_refused(settings, track_factory, fake_llm, offline):
    store = _catalog(settings, track_factory)
    reply = Moodtune(settings, llm=fake_llm(wording="1. Calm and slow.\n"), store=store).recommend("calm music for reading", k=3)
    assert reply.recommendations
    assert offline == [], f"something tried to reach the network: {offline}"


@pytest.mark.llm
def test_recommend_with_the_real_llm_and_the_network_refused(settings, track_factory, offline, real_llm_path):
    settings = replace(settings, llm_path=real_llm_path)
    reply = Moodtune(settings, store=_catalog(settings, track_factory)).recommend("happy pop for a sunny day", k=3, explain_top=2)
    assert reply.recommendations and reply.recommendations[0].track.emotion.top == "happy"
    assert offline == []
