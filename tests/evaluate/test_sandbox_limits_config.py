"""SandboxLimits.from_config: a problem's [limits] table, overrides winning, unknown keys ignored."""
from beam.evaluate import SandboxLimits


def test_from_config_takes_known_keys_and_overrides_win():
    limits = SandboxLimits.from_config({"memory_mb": 512, "call_timeout_s": 3.0, "evaluation_timeout_s": 9},
                                       call_timeout_s=7.0)
    assert limits.memory_mb == 512 and limits.call_timeout_s == 7.0
    assert limits.cpu_seconds == SandboxLimits().cpu_seconds  # untouched defaults stay
