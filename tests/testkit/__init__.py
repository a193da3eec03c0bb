"""Test scaffolding kept out of the library: a scripted OpenAI-compatible server, a ``transformers serve``
launcher, a headless-Chromium reader of the HTML report's self-test and a synthetic run writer.

Tests import it as ``testkit`` (pytest puts ``tests/`` on ``sys.path``); benchmarks insert ``tests/`` first.
"""
