"""Tools for developing agorakit itself (checks run by ``make lint`` and the tests)."""
