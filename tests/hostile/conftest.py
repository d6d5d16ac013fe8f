"""The fixtures of tests/extras that the forgery tests share: one real extra through the engine
(``run_extra``) and ``$HARNESS_DATA`` pointed at the session's dataset cache (``classic_data``)."""

from tests.extras.conftest import classic_data, run_extra  # noqa: F401
