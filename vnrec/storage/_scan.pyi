"""The native reader of SSI Content objects (`_scan.c`)."""

def scan(
    data: object,
    offsets: object,
    offset_width: int,
    rows: object,
    keys: tuple[bytes, ...],
    numeric: object,
    certain: object,
    numbers: object,
    valid: object,
    views: object,
) -> int:
    """Reads Content `rows[i]` (int64) of an Arrow string array's `offsets` (int32 when
    `offset_width` is 4, else int64) and `data` (buffers: any object with the buffer
    protocol). Per row i, `certain[i]` becomes 1 when the row was read exactly. Per key k
    (`numeric[k]`: 0 text, 1 number, 2 whole number an int64 holds, or NaN),
    `valid[k * n + i]` becomes 1 when it held a value, which is `numbers[s * n + i]` for
    the s-th numeric key and the Arrow string view `views[(s * n + i) * 16:][:16]` (into
    `data`) for the s-th text key. Returns how many rows are certain."""

def envelopes(
    data: object,
    starts: object,
    rows: object,
    certain: object,
    types: object,
    contents: object,
    content_offsets: object,
    recv_ns: object,
    recv_valid: object,
) -> int:
    """Reads line `rows[i]` (int64) of `data`, `data[starts[r]:starts[r + 1]]`, as an
    envelope of the usual shape. `certain[i]` becomes 1 when it is one; then its DataType
    is the Arrow string view `types[i * 16:][:16]` (into `data`), its Content (unescaped)
    `contents[content_offsets[i]:content_offsets[i + 1]]`, and its recv_ns `recv_ns[i]`
    where `recv_valid[i]`. `contents` holds at least the lines' bytes. Returns how many
    bytes of `contents` were written."""

def newlines(data: object, ends: object) -> int:
    """Writes the offset just past each newline of `data` into `ends` (int64, as many as
    fit) and returns how many newlines `data` has."""
