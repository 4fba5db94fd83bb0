/* The native reader of SSI envelopes and Content objects: the shape nearly every line has,
 * read into typed columns in one pass over the bytes.
 *
 * It reads only what it can read exactly as the reference readers do (DuckDB's
 * json_transform: vnrec.storage.normalize and vnrec.storage.envelopes), and calls every
 * other row uncertain, for DuckDB to read. A Content row is certain when it is one JSON
 * object whose
 *   - keys hold no escape, none twice among the known keys, at least one known key non-null;
 *   - values are null, strings without escapes or control characters, or numbers without
 *     exponent: up to 15 digits by one IEEE division (exact: the correctly rounded double,
 *     as yyjson gives), longer ones up to 40 characters by strtod_l in the C locale (also
 *     correctly rounded), never a negative zero (DuckDB reads -0 as 0);
 *   - known numeric keys hold numbers, null, numeric strings of the same form, or "NaN"
 *     (volumes and counts: whole numbers an int64 holds, or NaN); known text keys hold
 *     strings or null.
 * Keys match exactly (DuckDB's are case-sensitive); unknown keys are skipped, as DuckDB does.
 * Envelopes: see read_envelope. Everything is bounds-checked: the input is untrusted.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 512
#define MAX_DIGITS 15     /* up to here, one IEEE division is exact (Clinger's fast path) */
#define MAX_NUMBER_LEN 40 /* longer numbers are DuckDB's to read */

/* The "C" locale, for strtod_l: the process's own locale may use a decimal comma. */
static locale_t c_locale;

static const double POW10[MAX_DIGITS + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                             1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

typedef struct {
    const unsigned char *name;
    Py_ssize_t len;
    int index; /* -1: empty slot */
} Slot;

typedef struct {
    Slot *slots;
    uint64_t mask;
    const unsigned char **names; /* per key */
    Py_ssize_t *lengths;         /* per key */
    /* Keys come in the same order row after row: the key that followed key k last time
     * (next[k]; first: the first key) is tried before hashing. -1: none yet. */
    int *next;
    int first;
} KeyTable;

static uint64_t hash_key(const unsigned char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static int lookup(const KeyTable *t, const unsigned char *p, Py_ssize_t n) {
    uint64_t at = hash_key(p, n) & t->mask;
    for (;;) {
        const Slot *s = &t->slots[at];
        if (s->index < 0) return -1;
        if (s->len == n && memcmp(s->name, p, (size_t)n) == 0) return s->index;
        at = (at + 1) & t->mask;
    }
}

static inline const unsigned char *plain_string_end(const unsigned char *p,
                                                    const unsigned char *end);

/* The key whose body starts at p (just after its quote): its index, -1 when it is not one
 * of the known keys, -2 when it is no plain string. *key_end becomes its closing quote.
 * `after` is the previous key's index in the row (-1: none or unknown), `starts_row`
 * whether this is the row's first key. The key that came next last time is tried first,
 * by its known bytes and closing quote (a known key has neither escape nor quote). */
static int find_key(KeyTable *t, const unsigned char *p, const unsigned char *end,
                    const unsigned char **key_end, int after, int starts_row) {
    int guess = starts_row ? t->first : (after >= 0 ? t->next[after] : -1);
    int index;
    if (guess >= 0 && end - p > t->lengths[guess] && p[t->lengths[guess]] == '"' &&
        memcmp(t->names[guess], p, (size_t)t->lengths[guess]) == 0) {
        index = guess;
        *key_end = p + t->lengths[guess];
    } else {
        *key_end = plain_string_end(p, end);
        if (*key_end == NULL) return -2;
        index = lookup(t, p, *key_end - p);
    }
    if (starts_row)
        t->first = index;
    else if (after >= 0)
        t->next[after] = index;
    return index;
}

static inline int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end) {
    while (p < end && *p <= ' ' && is_ws(*p)) p++; /* one comparison for most bytes */
    return p;
}

/* An object's opening brace and the blanks after it: the first key's quote, or NULL. */
static inline const unsigned char *object_start(const unsigned char *p, const unsigned char *end) {
    p = skip_ws(p, end);
    if (p >= end || *p != '{') return NULL;
    return skip_ws(p + 1, end);
}

/* After a member's value: 1 with *p at the next key (past the comma), 0 when the object
 * closes and nothing but blanks follows it, -1 for anything else. */
static inline int next_member(const unsigned char **p, const unsigned char *end) {
    const unsigned char *q = skip_ws(*p, end);
    if (q >= end) return -1;
    if (*q == '}') return skip_ws(q + 1, end) == end ? 0 : -1;
    if (*q != ',') return -1;
    *p = skip_ws(q + 1, end);
    return 1;
}

/* A string's body from just after its opening quote: the closing quote's position, or
 * NULL when the string has an escape or a control character or does not end. */
static inline const unsigned char *plain_string_end(const unsigned char *p,
                                                    const unsigned char *end) {
    while (p < end) {
        unsigned char c = *p;
        if (c == '"') return p;
        if (c == '\\' || c < 0x20) return NULL;
        p++;
    }
    return NULL;
}

/* A number without exponent; sets *value to the correctly rounded double (as yyjson and
 * DuckDB's cast give) and returns the first byte after it, or NULL when it is not one. */
static inline __attribute__((always_inline)) const unsigned char *exact_number(
    const unsigned char *p, const unsigned char *end, double *value) {
    const unsigned char *start = p;
    int negative = 0;
    int64_t digits = 0, fraction = 0; /* a number may be as long as its line */
    uint64_t mantissa = 0;
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end) return NULL;
    if (*p == '0') {
        p++;
        digits = 1;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            if (++digits <= MAX_DIGITS) mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            p++;
        }
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') {
            if (++digits <= MAX_DIGITS) mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            fraction++;
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) return NULL;
    if (digits > MAX_DIGITS) {
        /* glibc's strtod is correctly rounded too, but needs a terminated copy */
        char copy[MAX_NUMBER_LEN + 1];
        size_t length = (size_t)(p - start);
        if (length > MAX_NUMBER_LEN) return NULL;
        memcpy(copy, start, length);
        copy[length] = 0;
        char *stop;
        double v = strtod_l(copy, &stop, c_locale);
        if (stop != copy + length || v == 0.0 || !isfinite(v)) return NULL;
        *value = v;
        return p;
    }
    if (mantissa == 0 && negative) return NULL; /* DuckDB: -0 is 0, "-0" is -0.0 */
    double v = (double)mantissa;
    if (fraction) v /= POW10[fraction];
    *value = negative ? -v : v;
    return p;
}

/* A number written as a JSON string ("3300", "NaN"), as DuckDB casts it to DOUBLE. */
static int text_number(const unsigned char *p, const unsigned char *end, double *value) {
    if (end - p == 3 && memcmp(p, "NaN", 3) == 0) {
        *value = NAN;
        return 1;
    }
    return exact_number(p, end, value) == end;
}

/* An Arrow string view of data[text:text_end] (the data is the view's buffer 0): the
 * length, then the bytes themselves when they fit in 12, else their first 4 and offset. */
static void write_view(unsigned char *view, const unsigned char *data, const unsigned char *text,
                       const unsigned char *text_end) {
    int32_t length = (int32_t)(text_end - text);
    memcpy(view, &length, 4);
    if (length <= 12) {
        memcpy(view + 4, text, (size_t)length);
    } else {
        int32_t buffer = 0, offset = (int32_t)(text - data);
        memcpy(view + 4, text, 4);
        memcpy(view + 8, &buffer, 4);
        memcpy(view + 12, &offset, 4);
    }
}

enum { TEXT = 0, NUMBER = 1, WHOLE = 2 }; /* a key's kind */

/* A volume or count: NaN (unknown) or a whole number an int64 holds. Any other number is
 * DuckDB's to read, and vnrec's to reject. */
static inline int is_whole(double v) {
    return isnan(v) || (fabs(v) < 9223372036854775808.0 && v == trunc(v));
}

typedef struct {
    Py_ssize_t rows;
    int keys;
    const unsigned char *numeric; /* per key: TEXT, NUMBER or WHOLE */
    const Py_ssize_t *slot;       /* per key: its place among the keys of its kind */
    double *numbers;              /* [slot * rows + row] of the numeric keys */
    unsigned char *valid;         /* [key * rows + row]: 1 when a value was read */
    unsigned char *views;         /* [(slot * rows + row) * 16] of the text keys */
    unsigned char *seen;          /* per key, for the row being read */
} Out;

/* Reads one Content into row `row` of `out`; returns 1 when the row is certain. */
static int read_object(const unsigned char *data, int64_t begin, int64_t finish,
                       KeyTable *table, Out *out, Py_ssize_t row) {
    const unsigned char *p = data + begin, *end = data + finish;
    int any = 0, previous = -1, starts_row = 1;
    memset(out->seen, 0, (size_t)out->keys);
    p = object_start(p, end);
    if (p == NULL) return 0;
    for (int more = 1; more;) {
        if (p >= end || *p != '"') return 0;
        const unsigned char *key_end;
        int index = find_key(table, p + 1, end, &key_end, previous, starts_row);
        if (index == -2) return 0;
        previous = index;
        starts_row = 0;
        if (index >= 0) {
            if (out->seen[index]) return 0;
            out->seen[index] = 1;
        }
        p = skip_ws(key_end + 1, end);
        if (p >= end || *p != ':') return 0;
        p = skip_ws(p + 1, end);
        if (p >= end) return 0;
        Py_ssize_t at = index >= 0 ? out->slot[index] * out->rows + row : 0;
        Py_ssize_t valid_at = (Py_ssize_t)index * out->rows + row;
        if (*p == '"') {
            const unsigned char *text = p + 1;
            const unsigned char *text_end = plain_string_end(text, end);
            if (text_end == NULL) return 0;
            if (index >= 0 && out->numeric[index]) {
                double number;
                if (!text_number(text, text_end, &number)) return 0;
                if (out->numeric[index] == WHOLE && !is_whole(number)) return 0;
                out->numbers[at] = number;
                out->valid[valid_at] = 1;
                any = 1;
            } else if (index >= 0) {
                write_view(out->views + at * 16, data, text, text_end);
                out->valid[valid_at] = 1;
                any = 1;
            }
            p = text_end + 1;
        } else if (*p == 'n') {
            if (end - p < 4 || memcmp(p, "null", 4) != 0) return 0;
            p += 4;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            double number;
            p = exact_number(p, end, &number);
            if (p == NULL) return 0;
            if (index >= 0) {
                if (!out->numeric[index]) return 0;
                if (out->numeric[index] == WHOLE && !is_whole(number)) return 0;
                out->numbers[at] = number;
                out->valid[valid_at] = 1;
                any = 1;
            }
        } else {
            return 0; /* true, false, an object or an array: DuckDB's to read */
        }
        more = next_member(&p, end);
        if (more < 0) return 0;
    }
    return any;
}

static int get_buffer(PyObject *obj, Py_buffer *view, const char *what, Py_ssize_t itemsize,
                      int writable) {
    if (PyObject_GetBuffer(obj, view, (writable ? PyBUF_WRITABLE : PyBUF_SIMPLE)) < 0) return -1;
    if (itemsize > 1 && view->len % itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of items", what,
                     view->len);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(scan_doc,
             "scan(data, offsets, offset_width, rows, keys, numeric, certain, numbers, valid,"
             " views)\n\n"
             "Reads Content i = data[offsets[rows[i]]:offsets[rows[i] + 1]] for each i into the\n"
             "writable outputs (see _scan.pyi); returns how many rows are certain.");

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *data_obj, *offsets_obj, *rows_obj, *keys, *numeric_obj, *certain_obj, *numbers_obj,
        *valid_obj, *views_obj;
    int width;
    if (!PyArg_ParseTuple(args, "OOiOO!OOOOO", &data_obj, &offsets_obj, &width, &rows_obj,
                          &PyTuple_Type, &keys, &numeric_obj, &certain_obj, &numbers_obj,
                          &valid_obj, &views_obj))
        return NULL;
    if (width != 4 && width != 8) {
        PyErr_SetString(PyExc_ValueError, "offset_width must be 4 or 8");
        return NULL;
    }
    Py_ssize_t nkeys = PyTuple_GET_SIZE(keys);
    if (nkeys < 1 || nkeys > MAX_KEYS) {
        PyErr_Format(PyExc_ValueError, "between 1 and %d keys, not %zd", MAX_KEYS, nkeys);
        return NULL;
    }
    Py_buffer data = {0}, offsets = {0}, rows = {0}, numeric = {0}, certain = {0}, numbers = {0},
              valid = {0}, views = {0};
    PyObject *result = NULL;
    Slot *slots = NULL;
    Py_ssize_t *slot = NULL, *name_lengths = NULL;
    const unsigned char **names = NULL;
    int *next = NULL;
    unsigned char *seen = NULL;
    if (get_buffer(data_obj, &data, "data", 1, 0) < 0) goto done;
    if (get_buffer(offsets_obj, &offsets, "offsets", width, 0) < 0) goto done;
    if (get_buffer(rows_obj, &rows, "rows", 8, 0) < 0) goto done;
    if (get_buffer(numeric_obj, &numeric, "numeric", 1, 0) < 0) goto done;
    if (get_buffer(certain_obj, &certain, "certain", 1, 1) < 0) goto done;
    if (get_buffer(numbers_obj, &numbers, "numbers", 8, 1) < 0) goto done;
    if (get_buffer(valid_obj, &valid, "valid", 1, 1) < 0) goto done;
    if (get_buffer(views_obj, &views, "views", 16, 1) < 0) goto done;
    if (data.len > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "string views reach 2 GiB of data at most");
        goto done;
    }
    Py_ssize_t n = rows.len / 8, count = offsets.len / width;
    if (numeric.len != nkeys) {
        PyErr_SetString(PyExc_ValueError, "numeric must have one byte per key");
        goto done;
    }
    slot = PyMem_Calloc((size_t)nkeys, sizeof(Py_ssize_t));
    if (slot == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t numeric_keys = 0, text_keys = 0;
    for (Py_ssize_t k = 0; k < nkeys; k++)
        slot[k] = ((const unsigned char *)numeric.buf)[k] ? numeric_keys++ : text_keys++;
    if (certain.len != n || numbers.len != n * numeric_keys * 8 || valid.len != n * nkeys ||
        views.len != n * text_keys * 16) {
        PyErr_SetString(PyExc_ValueError, "output sizes do not match the rows and keys");
        goto done;
    }
    uint64_t size = 16;
    while (size < (uint64_t)nkeys * 2) size <<= 1;
    slots = PyMem_Calloc(size, sizeof(Slot));
    seen = PyMem_Calloc((size_t)nkeys, 1);
    names = PyMem_Calloc((size_t)nkeys, sizeof(*names));
    name_lengths = PyMem_Calloc((size_t)nkeys, sizeof(*name_lengths));
    next = PyMem_Calloc((size_t)nkeys, sizeof(*next));
    if (slots == NULL || seen == NULL || names == NULL || name_lengths == NULL || next == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (uint64_t i = 0; i < size; i++) slots[i].index = -1;
    for (Py_ssize_t k = 0; k < nkeys; k++) next[k] = -1;
    KeyTable table = {slots, size - 1, names, name_lengths, next, -1};
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        PyObject *key = PyTuple_GET_ITEM(keys, k);
        if (!PyBytes_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "keys must be bytes");
            goto done;
        }
        const unsigned char *name = (const unsigned char *)PyBytes_AS_STRING(key);
        Py_ssize_t len = PyBytes_GET_SIZE(key);
        if (lookup(&table, name, len) >= 0) {
            PyErr_SetString(PyExc_ValueError, "a key is given twice");
            goto done;
        }
        uint64_t at = hash_key(name, len) & table.mask;
        while (slots[at].index >= 0) at = (at + 1) & table.mask;
        slots[at] = (Slot){name, len, (int)k};
        names[k] = name;
        name_lengths[k] = len;
    }
    const int64_t *row_index = rows.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (row_index[i] < 0 || row_index[i] >= (int64_t)count - 1) { /* no overflow */
            PyErr_Format(PyExc_IndexError, "row %lld is outside the %zd offsets",
                         (long long)row_index[i], count);
            goto done;
        }
    }
    Out out = {n, (int)nkeys, numeric.buf, slot, numbers.buf, valid.buf, views.buf, seen};
    const unsigned char *bytes = data.buf;
    unsigned char *is_certain = certain.buf;
    Py_ssize_t certain_rows = 0;
    int bad_offsets = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t r = row_index[i], begin, finish;
        if (width == 4) {
            begin = ((const int32_t *)offsets.buf)[r];
            finish = ((const int32_t *)offsets.buf)[r + 1];
        } else {
            begin = ((const int64_t *)offsets.buf)[r];
            finish = ((const int64_t *)offsets.buf)[r + 1];
        }
        if (begin < 0 || finish < begin || finish > data.len) {
            bad_offsets = 1;
            break;
        }
        is_certain[i] = (unsigned char)read_object(bytes, begin, finish, &table, &out, i);
        certain_rows += is_certain[i];
    }
    Py_END_ALLOW_THREADS
    if (bad_offsets) {
        PyErr_SetString(PyExc_ValueError, "offsets outside the data");
        goto done;
    }
    result = PyLong_FromSsize_t(certain_rows);
done:
    PyMem_Free(slots);
    PyMem_Free(slot);
    PyMem_Free(seen);
    PyMem_Free(names);
    PyMem_Free(name_lengths);
    PyMem_Free(next);
    Py_buffer *held[] = {&data, &offsets, &rows, &numeric, &certain, &numbers, &valid, &views};
    for (size_t v = 0; v < sizeof(held) / sizeof(held[0]); v++)
        if (held[v]->obj != NULL) PyBuffer_Release(held[v]);
    return result;
}

/* -- envelopes ------------------------------------------------------------------------ */

enum { DATA_TYPE, CONTENT, RECV_NS, ENVELOPE_KEYS };

static int envelope_key(const unsigned char *p, Py_ssize_t n) {
    if (n == 8 && memcmp(p, "DataType", 8) == 0) return DATA_TYPE;
    if (n == 7 && memcmp(p, "Content", 7) == 0) return CONTENT;
    if (n == 7 && memcmp(p, "recv_ns", 7) == 0) return RECV_NS;
    return -1;
}

/* A JSON string's body from just after its opening quote, unescaped into *out: the closing
 * quote's position, or NULL for a \u escape (DuckDB's to read), a control character, an
 * unknown escape or no end. */
static const unsigned char *unescape(const unsigned char *p, const unsigned char *end,
                                     unsigned char **out) {
    unsigned char *o = *out;
    while (p < end) {
        unsigned char c = *p;
        if (c == '"') {
            *out = o;
            return p;
        }
        if (c < 0x20) return NULL;
        if (c == '\\') {
            if (++p >= end) return NULL;
            switch (*p) {
                case '"': c = '"'; break;
                case '\\': c = '\\'; break;
                case '/': c = '/'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'n': c = '\n'; break;
                case 'r': c = '\r'; break;
                case 't': c = '\t'; break;
                default: return NULL;
            }
        }
        *o++ = c;
        p++;
    }
    return NULL;
}

typedef struct {
    unsigned char *type_view; /* 16 bytes */
    unsigned char *content;   /* where this envelope's Content goes; advanced past it */
    int64_t *recv_ns;
    unsigned char *recv_valid;
} EnvelopeOut;

/* Reads one line as {"DataType": "<printable ASCII>", "Content": "<a JSON object's text>",
 * "recv_ns": <a non-negative int64>} in any order, recv_ns optional; returns 1 when
 * it is exactly that (any other line is DuckDB's to read). */
static int read_envelope_body(const unsigned char *data, int64_t begin, int64_t finish,
                              EnvelopeOut *out) {
    const unsigned char *p = data + begin, *end = data + finish;
    int seen[ENVELOPE_KEYS] = {0, 0, 0};
    p = object_start(p, end);
    if (p == NULL) return 0;
    for (int more = 1; more;) {
        if (p >= end || *p != '"') return 0;
        const unsigned char *key_end = plain_string_end(p + 1, end);
        if (key_end == NULL) return 0;
        int key = envelope_key(p + 1, key_end - p - 1);
        if (key < 0 || seen[key]) return 0;
        seen[key] = 1;
        p = skip_ws(key_end + 1, end);
        if (p >= end || *p != ':') return 0;
        p = skip_ws(p + 1, end);
        if (p >= end) return 0;
        if (key == DATA_TYPE) {
            if (*p != '"') return 0;
            const unsigned char *text = p + 1, *text_end = plain_string_end(text, end);
            if (text_end == NULL || text_end == text) return 0;
            for (const unsigned char *c = text; c < text_end; c++)
                if (*c <= 0x20 || *c >= 0x7F) return 0;
            write_view(out->type_view, data, text, text_end);
            p = text_end + 1;
        } else if (key == CONTENT) {
            if (*p != '"') return 0;
            unsigned char *o = out->content;
            p = unescape(p + 1, end, &o);
            if (p == NULL || o == out->content || *out->content != '{') return 0;
            out->content = o;
            p++;
        } else {
            int digits = 0;
            uint64_t value = 0; /* 19 digits fit; int64's range is checked after */
            if (*p == '0') {
                p++;
                digits = 1;
            } else {
                while (p < end && *p >= '0' && *p <= '9') {
                    if (++digits > 19) return 0;
                    value = value * 10 + (uint64_t)(*p - '0');
                    p++;
                }
            }
            if (digits == 0 || value > (uint64_t)INT64_MAX) return 0;
            *out->recv_ns = (int64_t)value;
            *out->recv_valid = 1;
        }
        more = next_member(&p, end);
        if (more < 0) return 0;
    }
    return seen[DATA_TYPE] && seen[CONTENT];
}

/* As read_envelope_body; what an uncertain line wrote to the contents is taken back. */
static int read_envelope(const unsigned char *data, int64_t begin, int64_t finish,
                         EnvelopeOut *out) {
    unsigned char *start = out->content;
    if (read_envelope_body(data, begin, finish, out)) return 1;
    out->content = start;
    return 0;
}

PyDoc_STRVAR(envelopes_doc,
             "envelopes(data, starts, rows, certain, types, contents, content_offsets, recv_ns,"
             " recv_valid) -> int\n\n"
             "Reads the lines data[starts[r]:starts[r + 1]] for r in rows (see _scan.pyi);\n"
             "returns how many bytes of contents were written.");

static PyObject *envelopes(PyObject *self, PyObject *args) {
    PyObject *objects[9];
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &objects[0], &objects[1], &objects[2], &objects[3],
                          &objects[4], &objects[5], &objects[6], &objects[7], &objects[8]))
        return NULL;
    Py_buffer data = {0}, starts = {0}, rows = {0}, certain = {0}, types = {0}, contents = {0},
              offsets = {0}, recv = {0}, recv_valid = {0};
    PyObject *result = NULL;
    if (get_buffer(objects[0], &data, "data", 1, 0) < 0) goto done;
    if (get_buffer(objects[1], &starts, "starts", 8, 0) < 0) goto done;
    if (get_buffer(objects[2], &rows, "rows", 8, 0) < 0) goto done;
    if (get_buffer(objects[3], &certain, "certain", 1, 1) < 0) goto done;
    if (get_buffer(objects[4], &types, "types", 16, 1) < 0) goto done;
    if (get_buffer(objects[5], &contents, "contents", 1, 1) < 0) goto done;
    if (get_buffer(objects[6], &offsets, "content_offsets", 8, 1) < 0) goto done;
    if (get_buffer(objects[7], &recv, "recv_ns", 8, 1) < 0) goto done;
    if (get_buffer(objects[8], &recv_valid, "recv_valid", 1, 1) < 0) goto done;
    Py_ssize_t n = rows.len / 8, count = starts.len / 8;
    if (data.len > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "string views reach 2 GiB of data at most");
        goto done;
    }
    if (certain.len != n || types.len != n * 16 || offsets.len != (n + 1) * 8 ||
        recv.len != n * 8 || recv_valid.len != n) {
        PyErr_SetString(PyExc_ValueError, "output sizes do not match the rows");
        goto done;
    }
    const int64_t *row_index = rows.buf, *line_start = starts.buf;
    int64_t wanted = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t r = row_index[i];
        if (r < 0 || r >= (int64_t)count - 1) { /* no overflow */
            PyErr_Format(PyExc_IndexError, "row %lld is outside the %zd starts", (long long)r,
                         count);
            goto done;
        }
        if (line_start[r] < 0 || line_start[r + 1] < line_start[r] ||
            line_start[r + 1] > data.len) {
            PyErr_SetString(PyExc_ValueError, "line starts outside the data");
            goto done;
        }
        wanted += line_start[r + 1] - line_start[r];
    }
    if (contents.len < wanted) {
        PyErr_SetString(PyExc_ValueError, "contents is smaller than the lines");
        goto done;
    }
    unsigned char *content_base = contents.buf;
    int64_t *content_offsets = offsets.buf;
    EnvelopeOut out = {NULL, content_base, NULL, NULL};
    Py_BEGIN_ALLOW_THREADS
    content_offsets[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t r = row_index[i];
        out.type_view = (unsigned char *)types.buf + i * 16;
        out.recv_ns = (int64_t *)recv.buf + i;
        out.recv_valid = (unsigned char *)recv_valid.buf + i;
        ((unsigned char *)certain.buf)[i] =
            (unsigned char)read_envelope(data.buf, line_start[r], line_start[r + 1], &out);
        content_offsets[i + 1] = out.content - content_base;
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t((Py_ssize_t)(out.content - content_base));
done:;
    Py_buffer *held[] = {&data, &starts, &rows, &certain, &types, &contents, &offsets, &recv,
                         &recv_valid};
    for (size_t v = 0; v < sizeof(held) / sizeof(held[0]); v++)
        if (held[v]->obj != NULL) PyBuffer_Release(held[v]);
    return result;
}

PyDoc_STRVAR(newlines_doc,
             "newlines(data, ends) -> int\n\n"
             "Writes the offset just past each newline of data into ends (int64, as many as\n"
             "there is room for) and returns how many newlines there are.");

static PyObject *newlines(PyObject *self, PyObject *args) {
    PyObject *data_obj, *ends_obj;
    if (!PyArg_ParseTuple(args, "OO", &data_obj, &ends_obj)) return NULL;
    Py_buffer data = {0}, ends = {0};
    PyObject *result = NULL;
    if (get_buffer(data_obj, &data, "data", 1, 0) < 0) goto done;
    if (get_buffer(ends_obj, &ends, "ends", 8, 1) < 0) goto done;
    Py_ssize_t found = 0, room = ends.len / 8;
    int64_t *end_at = ends.buf;
    const unsigned char *base = data.buf, *p = base, *stop = base + data.len;
    Py_BEGIN_ALLOW_THREADS
    while (p < stop) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(stop - p));
        if (nl == NULL) break;
        if (found < room) end_at[found] = nl + 1 - base;
        found++;
        p = nl + 1;
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(found);
done:
    if (data.obj != NULL) PyBuffer_Release(&data);
    if (ends.obj != NULL) PyBuffer_Release(&ends);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"envelopes", envelopes, METH_VARARGS, envelopes_doc},
    {"newlines", newlines, METH_VARARGS, newlines_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_scan",
    .m_doc = "The native reader of SSI Content objects.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    if (c_locale == (locale_t)0) {
        c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (c_locale == (locale_t)0) return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyModule_Create(&module);
}
