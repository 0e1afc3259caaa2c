// The inference worker with the browser tests' hooks, which the product never loads: a page
// under test names this file as its worker (`data-worker`, or `workerUrl` to Aisle.create).
// Its imports run in order, the hooks (fault-hooks.js, which says what the tests can ask) and
// then the real worker unchanged. Both are static imports: a worker starts taking messages
// once its module has run, and a dynamic import would let the client's first messages arrive
// before the real worker listens (they were lost).
import "./fault-hooks.js";
import "../../www/worker.js";
