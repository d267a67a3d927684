"""Known deviations of specific libraries, marked xfail (non-strict) *only*
when that library is the namespace under test.

Keys are ``ARRAY_API_TESTS_MODULE`` values; entries are
``(fnmatch pattern on "<module stem>::<test id>", reason)``.
Nothing here applies to ``zyx.array_api``: any deviation of zyx must fail.
"""

KNOWN_DEVIATIONS: dict[str, list[tuple[str, str]]] = {
    "numpy": [],
    "array_api_strict": [],
}
