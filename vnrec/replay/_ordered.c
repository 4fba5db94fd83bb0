/* The operators whose answer for a row depends on the rows before it of its symbol: loops
 * over the rows in seq order, where a column operation would have to sort and search.
 *
 * - `previous_max`: each trade message's largest earlier eligible TotalVol of its symbol
 *   (the repeat rule, SPEC.md 7.3), with the per-symbol maxima carried in arrays the caller
 *   owns;
 * - `book_before`: each trade's book (the symbol's latest quote with a smaller seq), the
 *   window's quotes applied to the carried books as it goes;
 * - `add_totals`: the session stats' sums, first, highest, lowest and last price of each
 *   symbol's counted trades, added to per-symbol arrays the caller owns (values exact, in
 *   128 bits);
 * - `Rolling`: the trade alert rules' rolling windows (SPEC.md 7.5), one counted trade at a
 *   time, with each symbol's state kept from one call to the next: what
 *   vnrec.trackers.alerts.AlertTracker does per trade, without a Python object per trade.
 * - `ForeignHistory`: the foreign_acceleration rule (SPEC.md 7.5) over `R` messages: each
 *   symbol's (event time, net value) points in seq order, kept from one call to the next,
 *   searched from the newest back for the latest one at least the window old, as
 *   vnrec.trackers.alerts.ForeignAcceleration does with a Python list of tuples.
 *   Per symbol, in its current gap epoch: the event-time high-water mark (`clock`), the
 *   trades of the last spike window as (clock, volume, buy, sell) in clock order (clocks
 *   never go down), two heads into them (the spike and the imbalance windows' first trade),
 *   their sums, and the transition states. A trade of a later epoch starts the symbol
 *   afresh. Comparisons are made in 128 bits, as the reference's Python integers would.
 *
 * Every index into a per-symbol array is checked where it is used (the loops leave the
 * interpreter lock, so another thread could change an input meanwhile; a caller doing so
 * gets an error, never a write outside an array), and every buffer's item kind, size and
 * alignment; an output may not overlap any other buffer of the call. The sums are int64, as the caller's columns are: replay refuses a day whose
 * counted volume of a symbol would not fit (columnar's volume check), so they cannot wrap
 * there; a direct caller keeps that promise. The loops release the interpreter lock while
 * they work; `Rolling.run` refuses a second caller meanwhile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_SPIKE 1
#define FLAG_CEILING 2
#define FLAG_FLOOR 4
#define FLAG_IMBALANCE 8
#define MAX_SYMBOLS (1 << 24)

typedef struct {
    int64_t clock, volume, buy, sell;
} Trade;

typedef struct {
    int64_t epoch; /* -1: no trade yet */
    int64_t clock;
    Trade *trades;
    int64_t capacity, size;
    int64_t spike_head, flow_head; /* first trade inside each window */
    int64_t spike_total;           /* volume of trades[spike_head:size] */
    int64_t same_count, same_total; /* the trades at the last clock: a suffix */
    int64_t flow_buy, flow_sell;    /* of trades[flow_head:size] */
    uint8_t at_ceiling, at_floor, imbalanced;
} Symbol;

typedef struct {
    PyObject_HEAD
    int64_t spike_window, spike_min_trades, spike_factor;
    int64_t flow_window, flow_min_volume, flow_factor;
    int64_t buy_side, sell_side; /* the codes of `side` */
    Symbol *symbols;
    int64_t count;
    int busy, ready;
} Rolling;

static void reset(Symbol *s, int64_t epoch) {
    s->epoch = epoch;
    s->clock = INT64_MIN;
    s->size = s->spike_head = s->flow_head = 0;
    s->spike_total = s->same_count = s->same_total = s->flow_buy = s->flow_sell = 0;
    s->at_ceiling = s->at_floor = s->imbalanced = 0;
}

static int64_t minus(int64_t t, int64_t window) {
    return t < INT64_MIN + window ? INT64_MIN : t - window;
}

/* Room for one more trade: the trades before both heads are dropped first. Either head
 * can be the earlier one: the spike window is the longer, but the flow head last moved at
 * the previous trade, and a pause longer than the difference of the windows (the lunch
 * break) puts the spike head past it until this trade moves it. */
static int make_room(Symbol *s) {
    if (s->size < s->capacity) return 0;
    int64_t head = s->spike_head < s->flow_head ? s->spike_head : s->flow_head;
    if (head > 0 && head >= s->size / 2) {
        int64_t kept = s->size - head;
        memmove(s->trades, s->trades + head, (size_t)kept * sizeof(Trade));
        s->spike_head -= head;
        s->flow_head -= head;
        s->size = kept;
        return 0;
    }
    int64_t capacity = s->capacity ? 2 * s->capacity : 16;
    Trade *grown = realloc(s->trades, (size_t)capacity * sizeof(Trade));
    if (grown == NULL) return -1;
    s->trades = grown;
    s->capacity = capacity;
    return 0;
}

/* Per-symbol state of `*count` items of `size` bytes, grown (doubling, new items zeroed)
 * to hold at least `needed`; -1 when memory ran out. */
static int grow_per_symbol(void **items, int64_t *count, int64_t needed, size_t size) {
    if (needed <= *count) return 0;
    int64_t grown_count = *count ? *count : 64;
    while (grown_count < needed) grown_count *= 2;
    char *grown = realloc(*items, (size_t)grown_count * size);
    if (grown == NULL) return -1;
    memset(grown + (size_t)*count * size, 0, (size_t)(grown_count - *count) * size);
    *items = grown;
    *count = grown_count;
    return 0;
}

static int grow_symbols(Rolling *r, int64_t needed) {
    int64_t before = r->count;
    void *items = r->symbols;
    if (grow_per_symbol(&items, &r->count, needed, sizeof(Symbol)) < 0) return -1;
    r->symbols = items;
    for (int64_t i = before; i < r->count; i++) r->symbols[i].epoch = -1;
    return 0;
}

typedef struct {
    const int64_t *sym, *epoch, *ts, *volume;
    const uint8_t *side, *continuous;
    const double *price, *ceiling, *floor;
    uint8_t *flags;
    int64_t *count, *total, *buy, *sell;
} Columns;

/* One trade; -1 when memory ran out, -2 when its symbol id or epoch is outside what was
 * checked before the loop (an input changed meanwhile). */
static int step(Rolling *r, const Columns *c, Py_ssize_t i) {
    int64_t id = c->sym[i], epoch = c->epoch[i];
    if (id < 0 || id >= r->count || epoch < 0) return -2;
    Symbol *s = &r->symbols[id];
    if (s->epoch != epoch) reset(s, epoch);
    if (c->ts[i] > s->clock) s->clock = c->ts[i];
    int64_t t = s->clock, volume = c->volume[i];
    uint8_t flags = 0;

    /* volume_spike: the earlier trades with a clock in (t - window, t) */
    int64_t horizon = minus(t, r->spike_window);
    while (s->spike_head < s->size && s->trades[s->spike_head].clock <= horizon) {
        s->spike_total -= s->trades[s->spike_head].volume;
        s->spike_head++;
    }
    int same = s->size > s->spike_head && s->trades[s->size - 1].clock == t;
    int64_t count = s->size - s->spike_head - (same ? s->same_count : 0);
    int64_t total = s->spike_total - (same ? s->same_total : 0);
    if (count >= r->spike_min_trades &&
        (__int128)volume * count >= (__int128)r->spike_factor * total)
        flags |= FLAG_SPIKE;

    if (make_room(s) < 0) return -1;
    int64_t buy = c->side[i] == r->buy_side ? volume : 0;
    int64_t sell = c->side[i] == r->sell_side ? volume : 0;
    s->trades[s->size++] = (Trade){t, volume, buy, sell};
    s->spike_total += volume;
    s->same_count = same ? s->same_count + 1 : 1;
    s->same_total = same ? s->same_total + volume : volume;

    /* ceiling_hit / floor_hit: at the limit now, and the symbol's previous trade was not
       (NaN compares false, as in the reference) */
    uint8_t at_ceiling = c->ceiling[i] > 0 && c->price[i] >= c->ceiling[i];
    uint8_t at_floor = c->floor[i] > 0 && c->price[i] <= c->floor[i];
    if (at_ceiling && !s->at_ceiling) flags |= FLAG_CEILING;
    if (at_floor && !s->at_floor) flags |= FLAG_FLOOR;
    s->at_ceiling = at_ceiling;
    s->at_floor = at_floor;

    /* imbalance: the trades with a clock in (t - window, t], this one included; the state
       moves on continuous trades only */
    s->flow_buy += buy;
    s->flow_sell += sell;
    horizon = minus(t, r->flow_window);
    while (s->flow_head < s->size && s->trades[s->flow_head].clock <= horizon) {
        s->flow_buy -= s->trades[s->flow_head].buy;
        s->flow_sell -= s->trades[s->flow_head].sell;
        s->flow_head++;
    }
    if (c->continuous[i]) {
        __int128 fb = s->flow_buy, fs = s->flow_sell;
        uint8_t now = fb + fs >= r->flow_min_volume &&
                      (fb >= r->flow_factor * fs || fs >= r->flow_factor * fb);
        if (now && !s->imbalanced) flags |= FLAG_IMBALANCE;
        s->imbalanced = now;
    }
    c->flags[i] = flags;
    c->count[i] = count;
    c->total[i] = total;
    c->buy[i] = s->flow_buy;
    c->sell[i] = s->flow_sell;
    return 0;
}

/* A buffer's items must be of the kind and size asked for ('i' signed, 'u' unsigned integer,
 * 'f' float) and aligned to their size: the loops read them as C arrays of that type. */
static int check_items(const Py_buffer *view, const char *what, char kind, Py_ssize_t itemsize) {
    const char *format = view->format == NULL ? "B" : view->format;
    if (strchr("@=<", *format) != NULL) format++;
    char got = strchr("bhilq", *format) ? 'i' : strchr("BHILQ?", *format) ? 'u'
             : strchr("efd", *format)   ? 'f' : '?';
    if (got != kind || format[1] != '\0' || view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: items of format '%s' (%zd bytes), expected %c%zd",
                     what, view->format == NULL ? "B" : view->format, view->itemsize, kind,
                     itemsize);
        return -1;
    }
    if ((uintptr_t)view->buf % (uintptr_t)itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: buffer not aligned to its %zd-byte items", what,
                     itemsize);
        return -1;
    }
    return 0;
}

/* The buffers of a call, one per positional argument: inputs read-only, outputs writable,
 * each `count` items long (count < 0: as many as the first buffer with that count holds). */
typedef struct {
    int arg; /* its position in the call */
    const char *name;
    const char *type; /* kind and bytes: "i8", "u1", "f8" */
    int writable;
    Py_ssize_t *count; /* the count this buffer must have */
} Spec;

/* The buffers of `args`, a call of `function` with exactly `n` arguments, as `specs` say;
 * on failure, those taken are left in `views` for release_all. */
static int get_all(PyObject *args, const char *function, Spec *specs, Py_buffer *views,
                   int n) {
    if (PyTuple_GET_SIZE(args) != n) {
        PyErr_Format(PyExc_TypeError, "%s() takes %d arguments (%zd given)", function, n,
                     PyTuple_GET_SIZE(args));
        return -1;
    }
    for (int k = 0; k < n; k++) {
        const Spec *spec = &specs[k];
        Py_ssize_t itemsize = spec->type[1] - '0';
        int flags = PyBUF_FORMAT | (spec->writable ? PyBUF_WRITABLE : PyBUF_SIMPLE);
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(args, spec->arg), &views[k], flags) < 0) {
            views[k].obj = NULL;
            return -1;
        }
        if (check_items(&views[k], spec->name, spec->type[0], itemsize) < 0) return -1;
        if (*spec->count < 0) {
            *spec->count = views[k].len / itemsize;
        } else if (views[k].len != *spec->count * itemsize) {
            PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", spec->name,
                         views[k].len, *spec->count * itemsize);
            return -1;
        }
    }
    /* A loop writing an output that shares memory with another buffer would read back its
       own writes (an id it never checked, among them). */
    for (int k = 0; k < n; k++) {
        if (!specs[k].writable || views[k].len == 0) continue;
        const char *lo = views[k].buf, *hi = lo + views[k].len;
        for (int j = 0; j < n; j++) {
            const char *other = views[j].buf;
            if (j == k || views[j].len == 0 || other >= hi || other + views[j].len <= lo)
                continue;
            PyErr_Format(PyExc_ValueError, "%s: shares memory with %s", specs[k].name,
                         specs[j].name);
            return -1;
        }
    }
    return 0;
}

static void release_all(Py_buffer *views, int n) {
    for (int k = 0; k < n; k++)
        if (views[k].obj != NULL) PyBuffer_Release(&views[k]);
}

/* An id found out of range inside a loop although it was checked before: the caller
 * changed an input while the loop ran. */
static int changed_meanwhile(const char *what, Py_ssize_t row) {
    PyErr_Format(PyExc_RuntimeError, "%s: row %zd changed while the loop ran", what, row);
    return -1;
}

/* Whether an object with per-symbol state may run now: set up, and not running already
 * (another thread, while the lock is left). */
static int may_run(int busy, int ready, const char *type) {
    if (busy) {
        PyErr_Format(PyExc_RuntimeError, "%s.run is already running", type);
        return -1;
    }
    if (!ready) {
        PyErr_Format(PyExc_RuntimeError, "%s is not initialized", type);
        return -1;
    }
    return 0;
}

/* The error of a run's loop that stopped at `row` with `failed` (0: none; -2: an input
 * changed meanwhile; else memory ran out). */
static int run_failed(int failed, const char *what, Py_ssize_t row) {
    if (failed == 0) return 0;
    if (failed == -2) return changed_meanwhile(what, row);
    PyErr_NoMemory();
    return -1;
}

static int check_ids(const int32_t *ids, Py_ssize_t n, Py_ssize_t symbols, const char *what) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= symbols) {
            PyErr_Format(PyExc_ValueError, "%s: symbol id %d out of range (%zd symbols)", what,
                         (int)ids[i], symbols);
            return -1;
        }
    return 0;
}

static PyObject *Rolling_run(Rolling *self, PyObject *args) {
    if (may_run(self->busy, self->ready, "Rolling") < 0) return NULL;
    Py_ssize_t rows = -1;
    Spec specs[14] = {{0, "sym", "i8", 0, &rows},        {1, "epoch", "i8", 0, &rows},
                      {2, "ts", "i8", 0, &rows},         {3, "volume", "i8", 0, &rows},
                      {4, "side", "u1", 0, &rows},       {5, "continuous", "u1", 0, &rows},
                      {6, "price", "f8", 0, &rows},      {7, "ceiling", "f8", 0, &rows},
                      {8, "floor", "f8", 0, &rows},      {9, "flags", "u1", 1, &rows},
                      {10, "count", "i8", 1, &rows},     {11, "total", "i8", 1, &rows},
                      {12, "buy", "i8", 1, &rows},       {13, "sell", "i8", 1, &rows}};
    Py_buffer views[14];
    memset(views, 0, sizeof(views));
    PyObject *result = NULL;
    if (get_all(args, "Rolling.run", specs, views, 14) < 0) goto done;
    Columns c = {
        views[0].buf, views[1].buf, views[2].buf,  views[3].buf,  views[4].buf,
        views[5].buf, views[6].buf, views[7].buf,  views[8].buf,  views[9].buf,
        views[10].buf, views[11].buf, views[12].buf, views[13].buf,
    };
    int64_t top = -1;
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (c.sym[i] < 0 || c.sym[i] >= MAX_SYMBOLS) {
            PyErr_Format(PyExc_ValueError, "symbol id %lld out of range",
                         (long long)c.sym[i]);
            goto done;
        }
        if (c.epoch[i] < 0) {
            PyErr_Format(PyExc_ValueError, "epoch %lld is negative", (long long)c.epoch[i]);
            goto done;
        }
        if (c.sym[i] > top) top = c.sym[i];
    }
    if (grow_symbols(self, top + 1) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    int failed = 0;
    Py_ssize_t i = 0;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    for (; i < rows && !failed; i++) failed = step(self, &c, i);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (run_failed(failed, "Rolling.run", i - 1) < 0) goto done;
    result = Py_None;
    Py_INCREF(result);
done:
    release_all(views, 14);
    return result;
}

static int Rolling_init(Rolling *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"spike_window",  "spike_min_trades", "spike_factor",
                               "flow_window",   "flow_min_volume",  "flow_factor",
                               "buy_side",      "sell_side",        NULL};
    int64_t v[8];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "LLLLLLLL", keywords, &v[0], &v[1], &v[2],
                                     &v[3], &v[4], &v[5], &v[6], &v[7]))
        return -1;
    if (self->ready) {  /* the symbols' state was kept under the first settings */
        PyErr_SetString(PyExc_RuntimeError, "Rolling is already initialized");
        return -1;
    }
    if (v[0] <= 0 || v[3] <= 0 || v[3] > v[0]) {
        PyErr_SetString(PyExc_ValueError, "windows must be positive, the flow's the shorter");
        return -1;
    }
    self->spike_window = v[0];
    self->spike_min_trades = v[1];
    self->spike_factor = v[2];
    self->flow_window = v[3];
    self->flow_min_volume = v[4];
    self->flow_factor = v[5];
    self->buy_side = v[6];
    self->sell_side = v[7];
    self->ready = 1;
    return 0;
}

static void Rolling_dealloc(Rolling *self) {
    for (int64_t i = 0; i < self->count; i++) free(self->symbols[i].trades);
    free(self->symbols);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(run_doc,
             "run(sym, epoch, ts, volume, side, continuous, price, ceiling, floor, flags, count,"
             " total, buy, sell)\n\n"
             "Applies the rules to each trade in order (see _ordered.pyi).");

static PyMethodDef Rolling_methods[] = {
    {"run", (PyCFunction)Rolling_run, METH_VARARGS, run_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RollingType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vnrec.replay._ordered.Rolling",
    .tp_basicsize = sizeof(Rolling),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The trade alert rules' rolling windows, per symbol.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Rolling_init,
    .tp_dealloc = (destructor)Rolling_dealloc,
    .tp_methods = Rolling_methods,
};

typedef struct {
    int64_t stamp;
    double net;
} Point;

typedef struct {
    Point *points;
    int64_t size, capacity;
} History;

typedef struct {
    PyObject_HEAD
    int64_t window;
    double min_net, factor;
    History *symbols;
    int64_t count;
    int busy, ready;
} ForeignHistory;

/* One usable `R` message; -1 when memory ran out. The comparisons are those of the
 * reference in IEEE doubles (a NaN net never alerts, as there). */
static int foreign_step(ForeignHistory *f, int64_t sym, int64_t ts, double net, uint8_t *found,
                        double *before) {
    if (sym < 0 || sym >= f->count) return -2; /* an input changed since it was checked */
    History *h = &f->symbols[sym];
    /* the latest earlier point at or before ts - window; none when that time is below the
       int64 range, where no point can be */
    int known = 0;
    double then = 0.0;
    if (ts >= INT64_MIN + f->window) {
        int64_t horizon = ts - f->window;
        for (int64_t k = h->size - 1; k >= 0; k--)
            if (h->points[k].stamp <= horizon) {
                then = h->points[k].net;
                known = 1;
                break;
            }
    }
    if (h->size == h->capacity) {
        int64_t capacity = h->capacity ? 2 * h->capacity : 16;
        Point *grown = realloc(h->points, (size_t)capacity * sizeof(Point));
        if (grown == NULL) return -1;
        h->points = grown;
        h->capacity = capacity;
    }
    h->points[h->size++] = (Point){ts, net};
    if (known && fabs(then) >= f->min_net && fabs(net - then) >= f->factor * fabs(then)) {
        *found = 1;
        *before = then;
    }
    return 0;
}

static PyObject *ForeignHistory_run(ForeignHistory *self, PyObject *args) {
    if (may_run(self->busy, self->ready, "ForeignHistory") < 0) return NULL;
    Py_ssize_t rows = -1;
    Spec specs[6] = {{0, "sym", "i8", 0, &rows},   {1, "ts", "i8", 0, &rows},
                     {2, "net", "f8", 0, &rows},   {3, "usable", "u1", 0, &rows},
                     {4, "found", "u1", 1, &rows}, {5, "before", "f8", 1, &rows}};
    Py_buffer views[6];
    memset(views, 0, sizeof(views));
    PyObject *result = NULL;
    if (get_all(args, "ForeignHistory.run", specs, views, 6) < 0) goto done;
    const int64_t *sym = views[0].buf, *ts = views[1].buf;
    const double *net = views[2].buf;
    const uint8_t *usable = views[3].buf;
    uint8_t *found = views[4].buf;
    double *before = views[5].buf;
    int64_t top = -1;
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (!usable[i]) continue;
        if (sym[i] < 0 || sym[i] >= MAX_SYMBOLS) {
            PyErr_Format(PyExc_ValueError, "symbol id %lld out of range", (long long)sym[i]);
            goto done;
        }
        if (sym[i] > top) top = sym[i];
    }
    void *histories = self->symbols;
    if (grow_per_symbol(&histories, &self->count, top + 1, sizeof(History)) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    self->symbols = histories;
    int failed = 0;
    Py_ssize_t i = 0;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    for (; i < rows && !failed; i++) {
        found[i] = 0;
        before[i] = 0.0;
        if (usable[i]) failed = foreign_step(self, sym[i], ts[i], net[i], &found[i], &before[i]);
    }
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (run_failed(failed, "ForeignHistory.run", i - 1) < 0) goto done;
    result = Py_None;
    Py_INCREF(result);
done:
    release_all(views, 6);
    return result;
}

static int ForeignHistory_init(ForeignHistory *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"window", "min_net", "factor", NULL};
    int64_t window;
    double min_net, factor;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Ldd", keywords, &window, &min_net, &factor))
        return -1;
    if (self->ready) { /* the points were kept under the first settings */
        PyErr_SetString(PyExc_RuntimeError, "ForeignHistory is already initialized");
        return -1;
    }
    if (window <= 0) {
        PyErr_SetString(PyExc_ValueError, "the window must be positive");
        return -1;
    }
    self->window = window;
    self->min_net = min_net;
    self->factor = factor;
    self->ready = 1;
    return 0;
}

static void ForeignHistory_dealloc(ForeignHistory *self) {
    for (int64_t i = 0; i < self->count; i++) free(self->symbols[i].points);
    free(self->symbols);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(foreign_run_doc,
             "run(sym, ts, net, usable, found, before)\n\n"
             "Applies the rule to each message in order (see _ordered.pyi).");

static PyMethodDef ForeignHistory_methods[] = {
    {"run", (PyCFunction)ForeignHistory_run, METH_VARARGS, foreign_run_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ForeignHistoryType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vnrec.replay._ordered.ForeignHistory",
    .tp_basicsize = sizeof(ForeignHistory),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The foreign_acceleration rule's points, per symbol.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)ForeignHistory_init,
    .tp_dealloc = (destructor)ForeignHistory_dealloc,
    .tp_methods = ForeignHistory_methods,
};

PyDoc_STRVAR(previous_max_doc,
             "previous_max(sym, values, maxima, previous)\n\n"
             "previous[i] = maxima[sym[i]], then maxima[sym[i]] = max(it, values[i]).");

static PyObject *previous_max(PyObject *self, PyObject *args) {
    Py_ssize_t rows = -1, symbols = -1;
    Spec specs[4] = {{0, "sym", "i4", 0, &rows},
                     {1, "values", "i8", 0, &rows},
                     {2, "maxima", "i8", 1, &symbols},
                     {3, "previous", "i8", 1, &rows}};
    Py_buffer views[4];
    memset(views, 0, sizeof(views));
    PyObject *result = NULL;
    if (get_all(args, "previous_max", specs, views, 4) < 0) goto done;
    const int32_t *sym = views[0].buf;
    const int64_t *values = views[1].buf;
    int64_t *maxima = views[2].buf, *previous = views[3].buf;
    if (check_ids(sym, rows, symbols, "previous_max") < 0) goto done;
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < rows; i++) {
        int32_t id = sym[i];
        if (id < 0 || id >= symbols) {
            bad = i;
            break;
        }
        int64_t *top = &maxima[id];
        previous[i] = *top;
        if (values[i] > *top) *top = values[i];
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0 && changed_meanwhile("previous_max", bad) < 0) goto done;
    result = Py_None;
    Py_INCREF(result);
done:
    release_all(views, 4);
    return result;
}

PyDoc_STRVAR(book_before_doc,
             "book_before(trade_seq, trade_sym, quote_seq, quote_sym, quote_bid, quote_ask,"
             " book_seq, bid, ask, out_seq, out_bid, out_ask)\n\n"
             "Each trade's book before it; the quotes applied to the books (see _ordered.pyi).");

static PyObject *book_before(PyObject *self, PyObject *args) {
    Py_ssize_t trades = -1, quotes = -1, symbols = -1;
    Spec specs[12] = {{0, "trade_seq", "i8", 0, &trades},
                      {1, "trade_sym", "i4", 0, &trades},
                      {2, "quote_seq", "i8", 0, &quotes},
                      {3, "quote_sym", "i4", 0, &quotes},
                      {4, "quote_bid", "f8", 0, &quotes},
                      {5, "quote_ask", "f8", 0, &quotes},
                      {6, "book_seq", "i8", 1, &symbols},
                      {7, "bid", "f8", 1, &symbols},
                      {8, "ask", "f8", 1, &symbols},
                      {9, "out_seq", "i8", 1, &trades},
                      {10, "out_bid", "f8", 1, &trades},
                      {11, "out_ask", "f8", 1, &trades}};
    Py_buffer views[12];
    memset(views, 0, sizeof(views));
    PyObject *result = NULL;
    if (get_all(args, "book_before", specs, views, 12) < 0) goto done;
    const int64_t *trade_seq = views[0].buf, *quote_seq = views[2].buf;
    const int32_t *trade_sym = views[1].buf, *quote_sym = views[3].buf;
    const double *quote_bid = views[4].buf, *quote_ask = views[5].buf;
    int64_t *book_seq = views[6].buf, *out_seq = views[9].buf;
    double *bid = views[7].buf, *ask = views[8].buf;
    double *out_bid = views[10].buf, *out_ask = views[11].buf;
    if (check_ids(trade_sym, trades, symbols, "book_before") < 0 ||
        check_ids(quote_sym, quotes, symbols, "book_before") < 0)
        goto done;
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t q = 0;
    for (Py_ssize_t i = 0; i <= trades && bad < 0; i++) {
        /* an X message's book part has its trade part's seq and comes after it */
        while (q < quotes && (i == trades || quote_seq[q] < trade_seq[i])) {
            int32_t s = quote_sym[q];
            if (s < 0 || s >= symbols) {
                bad = q;
                break;
            }
            book_seq[s] = quote_seq[q];
            bid[s] = quote_bid[q];
            ask[s] = quote_ask[q];
            q++;
        }
        if (i == trades || bad >= 0) break;
        int32_t s = trade_sym[i];
        if (s < 0 || s >= symbols) {
            bad = i;
            break;
        }
        out_seq[i] = book_seq[s];
        out_bid[i] = bid[s];
        out_ask[i] = ask[s];
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0 && changed_meanwhile("book_before", bad) < 0) goto done;
    result = Py_None;
    Py_INCREF(result);
done:
    release_all(views, 12);
    return result;
}

PyDoc_STRVAR(add_totals_doc,
             "add_totals(sym, side, session, volume, units, price, counts, values, prices, seen)"
             "\n\nAdds counted trades to per-symbol session totals (see _ordered.pyi).");

enum { TRADES, VOLUME, BUY_VOLUME, SELL_VOLUME, NEUTRAL_VOLUME, CONTINUOUS, ATO, ATC, COUNTS };
enum { VALUE, BUY_VALUE, SELL_VALUE, NEUTRAL_VALUE, VALUES };
enum { OPEN, HIGH, LOW, CLOSE, PRICES };

static void add_value(int64_t *pair, __int128 amount) {
    /* In unsigned 128 bits: shifting a negative high word is undefined, wrapping is not. */
    unsigned __int128 sum = ((unsigned __int128)(uint64_t)pair[1] << 64 | (uint64_t)pair[0]) +
                            (unsigned __int128)amount;
    pair[0] = (int64_t)(uint64_t)sum;
    pair[1] = (int64_t)(uint64_t)(sum >> 64);
}

static PyObject *add_totals(PyObject *self, PyObject *args) {
    Py_ssize_t rows = -1, symbols = -1, counts_n = -1, values_n = -1, prices_n = -1;
    Spec specs[10] = {{9, "seen", "u1", 1, &symbols},  {0, "sym", "i4", 0, &rows},
                      {1, "side", "i1", 0, &rows},     {2, "session", "i1", 0, &rows},
                      {3, "volume", "i8", 0, &rows},   {4, "units", "i8", 0, &rows},
                      {5, "price", "f8", 0, &rows},    {6, "counts", "i8", 1, &counts_n},
                      {7, "values", "i8", 1, &values_n}, {8, "prices", "f8", 1, &prices_n}};
    Py_buffer views[10];
    memset(views, 0, sizeof(views));
    PyObject *result = NULL;
    if (get_all(args, "add_totals", specs, views, 10) < 0) goto done;
    if (counts_n != symbols * COUNTS || values_n != symbols * VALUES * 2 ||
        prices_n != symbols * PRICES) {
        PyErr_Format(PyExc_ValueError, "add_totals: per-symbol arrays of %zd symbols expected",
                     symbols);
        goto done;
    }
    uint8_t *seen = views[0].buf;
    const int32_t *sym = views[1].buf;
    const int8_t *side = views[2].buf, *session = views[3].buf;
    const int64_t *volume = views[4].buf, *units = views[5].buf;
    const double *price = views[6].buf;
    int64_t *counts = views[7].buf, *values = views[8].buf;
    double *prices = views[9].buf;
    if (check_ids(sym, rows, symbols, "add_totals") < 0) goto done;
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < rows; i++) {
        int32_t id = sym[i];
        if (id < 0 || id >= symbols) {
            bad = i;
            break;
        }
        int64_t *count = counts + (Py_ssize_t)id * COUNTS;
        int64_t *value = values + (Py_ssize_t)id * VALUES * 2;
        double *p = prices + (Py_ssize_t)id * PRICES;
        int64_t v = volume[i];
        __int128 amount = (__int128)units[i] * v;
        int by_side = side[i] == 1 ? BUY_VOLUME : side[i] == 2 ? SELL_VOLUME
                      : side[i] == 0 ? NEUTRAL_VOLUME : -1;
        int by_phase = session[i] == 0 ? CONTINUOUS : session[i] == 1 ? ATO
                       : session[i] == 2 ? ATC : -1;
        count[TRADES] += 1;
        count[VOLUME] += v;
        add_value(value + 2 * VALUE, amount);
        if (by_side >= 0) {
            count[by_side] += v;
            add_value(value + 2 * (by_side - BUY_VOLUME + BUY_VALUE), amount);
        }
        if (by_phase >= 0) count[by_phase] += v;
        if (!seen[id]) {
            seen[id] = 1;
            p[OPEN] = p[HIGH] = p[LOW] = price[i];
        }
        if (price[i] > p[HIGH]) p[HIGH] = price[i];
        if (price[i] < p[LOW]) p[LOW] = price[i];
        p[CLOSE] = price[i];
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0 && changed_meanwhile("add_totals", bad) < 0) goto done;
    result = Py_None;
    Py_INCREF(result);
done:
    release_all(views, 10);
    return result;
}

static PyMethodDef module_methods[] = {
    {"previous_max", previous_max, METH_VARARGS, previous_max_doc},
    {"book_before", book_before, METH_VARARGS, book_before_doc},
    {"add_totals", add_totals, METH_VARARGS, add_totals_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_ordered",
    .m_doc = "The operators that are loops over rows in seq order.",
    .m_methods = module_methods,
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__ordered(void) {
    if (PyType_Ready(&RollingType) < 0 || PyType_Ready(&ForeignHistoryType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&RollingType);
    if (PyModule_AddObject(m, "Rolling", (PyObject *)&RollingType) < 0) {
        Py_DECREF(&RollingType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&ForeignHistoryType);
    if (PyModule_AddObject(m, "ForeignHistory", (PyObject *)&ForeignHistoryType) < 0) {
        Py_DECREF(&ForeignHistoryType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
