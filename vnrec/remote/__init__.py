"""Object storage as a data root: `vnrec push` uploads compacted days under an s3:// prefix
(the local layout, SPEC.md section 3), and the reading commands mirror the days they need
from it into a local cache."""
