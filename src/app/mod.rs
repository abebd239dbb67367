//! The application: what every request gets, whichever protocol carried it.
//!
//! [`App`] is the one [`Handler`] a worker hands its protocols. It routes a request
//! ([`router`]), lets the request's controls stand in for or reshape the answer ([`controls`]),
//! and answers through the protocol's [`Respond`]:
//! - [`builtin`]: `GET /`'s hello, `/echo`, `/whoami`, `OPTIONS *`, the `/debug/*` aids, and
//!   the 404 and 405 every route shares;
//! - [`health`]: `/healthz`, its check and its control;
//! - [`metrics`]: `/metrics` (Prometheus) and `/status` (JSON), every worker's figures;
//! - [`files`]: `--root`'s files (the store that finds and caches them, and the answers:
//!   ranges, conditionals, precompressed siblings);
//! - [`bin`]: the httpbin routes, and `/raw` and `/inspect`;
//! - [`generate`]: bodies made as they are written, for the routes that stream.
//!
//! Nothing here knows a wire format: heads are [`ResponseHead`](crate::http::ResponseHead)s,
//! bodies are [`Body`](crate::http::Body)s or [`Producer`](crate::http::Producer)s, and what
//! the connection knows comes in the [`Exchange`].

pub mod bin;
mod builtin;
pub(crate) mod compress;
pub(crate) mod controls;
mod cors;
pub mod files;
pub(crate) mod generate;
mod health;
pub(crate) mod metrics;
mod router;
mod text;
mod websocket;

use self::router::Route;
use crate::config::{AdminToken, Config, ControlOptions};
use crate::http::{Exchange, FieldList, Handler, PortRole, Reply, Request, Respond, StaticRoute};
use crate::ids::WorkerId;
use crate::stats::{MasterStats, WorkerStats};

/// The field-name prefix that marks a request as carrying controls (`X-Echo-Delay: 5ms`): the
/// protocol notes it while it parses, so a request without one costs nothing here.
pub const CONTROL_MARKER: &[u8] = controls::FIELD_PREFIX;

/// One worker's application: its options, its figures and the state it keeps between
/// requests (the file cache, httpbin's scratch space).
#[derive(Debug)]
pub struct App<'a> {
    /// The `/whoami` body: `pid=<pid> slot=<n> generation=<g>`.
    whoami: Vec<u8>,
    /// Serve the `/debug/*` fault-injection routes.
    debug_routes: bool,
    /// This worker's figures (injected faults are counted here).
    stats: &'a WorkerStats,
    /// Every worker's figures, for `/metrics` and `/status`.
    all_stats: &'a [WorkerStats],
    master_stats: &'a MasterStats,
    /// RLIMIT_NOFILE, for `/metrics`.
    open_files_limit: u64,
    /// `--metrics-port` is set: the main port does not serve `/metrics` and `/status`.
    metrics_port: bool,
    /// `--admin-token`: a request on the main port that carries it may change `/healthz`.
    admin_token: Option<AdminToken>,
    /// `--root`'s files, when serving a directory.
    files: Option<files::FileStore>,
    /// The httpbin routes, when they are on.
    httpbin: Option<bin::Httpbin>,
    controls: ControlOptions,
    /// The fields the controls add to a response, rendered here (kept between requests, so a
    /// controlled request allocates nothing once warm).
    control_fields: FieldList,
    /// `/websocket/echo`'s limits.
    websocket: crate::config::WebSocketOptions,
    /// `--cors-origin`'s policy, shared with the adapter that adds its fields.
    cors: Option<std::rc::Rc<crate::config::CorsOptions>>,
    /// `--compress`'s policy, shared with the file store.
    compress: Option<std::rc::Rc<compress::Compression>>,
    /// `/` is always the hello: no `--root` (whose index file it could be), and no
    /// `--default-params` (which would give every request controls).
    hello_at_root: bool,
}

impl<'a> App<'a> {
    /// The application of worker `worker`, as `config` sets it up.
    ///
    /// # Errors
    /// If `--root` cannot be opened.
    pub fn new(
        config: &Config,
        worker: WorkerId,
        stats: &'a WorkerStats,
        all_stats: &'a [WorkerStats],
        master_stats: &'a MasterStats,
        open_files_limit: u64,
    ) -> std::io::Result<App<'a>> {
        let compress = config
            .compress
            .as_ref()
            .map(|c| std::rc::Rc::new(compress::Compression::new(c)));
        let mut files = config
            .files
            .as_ref()
            .map(files::FileStore::open)
            .transpose()?;
        if let Some(store) = &mut files {
            store.compress.clone_from(&compress);
        }
        Ok(App {
            whoami: format!(
                "pid={} slot={} generation={}",
                worker.pid, worker.slot, worker.generation
            )
            .into_bytes(),
            debug_routes: config.lifecycle.debug_routes,
            stats,
            all_stats,
            master_stats,
            open_files_limit,
            metrics_port: config.metrics_port.is_some(),
            admin_token: config.admin_token.clone(),
            files,
            compress,
            httpbin: config
                .httpbin
                .clone()
                .map(|options| bin::Httpbin::new(options, worker)),
            controls: config.controls.clone(),
            websocket: config.websocket,
            cors: config.cors.clone().map(std::rc::Rc::new),
            control_fields: FieldList::default(),
            hello_at_root: config.files.is_none() && config.controls.defaults.is_none(),
        })
    }

    /// The routes whose answer never changes but for its date, which a protocol may render
    /// once a second and send without asking: `GET /`'s hello, when `/` can only be the
    /// hello (no `--root`, whose index file it could be; no `--default-params`, which give
    /// every request controls).
    pub fn static_routes(&self) -> Vec<StaticRoute> {
        // With a CORS policy every answer may carry its fields, and with compression the hello
        // may vary (if its type is listed and the minimum is below its size): none is
        // pre-rendered then.
        let hello = builtin::HELLO;
        let varies = self
            .compress
            .as_ref()
            .is_some_and(|c| c.applies(hello.content_type, hello.body.len() as u64));
        if !self.hello_at_root || self.cors.is_some() || varies {
            return Vec::new();
        }
        vec![StaticRoute {
            path: b"/",
            response: builtin::HELLO,
        }]
    }

    fn route(&self, req: &Request<'_>, ex: &Exchange<'_>) -> Route {
        router::route_for(self, req, ex.port)
    }
}

impl Handler for App<'_> {
    fn keeps_body(&mut self, req: &Request<'_>, ex: &Exchange<'_>) -> bool {
        router::keeps_body(self.route(req, ex), req.method)
    }

    #[inline]
    fn respond(&mut self, req: &Request<'_>, ex: &Exchange<'_>, res: &mut dyn Respond) -> Reply {
        if self.compress.is_some() {
            return self.respond_compressing(req, ex, res);
        }
        if let Some(cors) = &self.cors {
            return self.respond_with_cors(std::rc::Rc::clone(cors), req, ex, res);
        }
        self.respond_to(req, ex, res)
    }
}

impl App<'_> {
    /// A request under `--compress`: its route answers through [`compress::Compressing`],
    /// which compresses what it sends when the type, size and `Accept-Encoding` say so.
    #[inline(never)]
    fn respond_compressing(
        &mut self,
        req: &Request<'_>,
        ex: &Exchange<'_>,
        res: &mut dyn Respond,
    ) -> Reply {
        let Some(policy) = self.compress.clone() else {
            return self.respond_to(req, ex, res);
        };
        let mut with = compress::Compressing::new(&policy, req, ex.now, res);
        let reply = match self.cors.clone() {
            Some(cors) => self.respond_with_cors(cors, req, ex, &mut with),
            None => self.respond_to(req, ex, &mut with),
        };
        with.finish(reply)
    }

    /// A request under `--cors-origin`: a preflight answered by the policy, anything else by
    /// its route with the policy's fields added.
    #[inline(never)]
    fn respond_with_cors(
        &mut self,
        cors: std::rc::Rc<crate::config::CorsOptions>,
        req: &Request<'_>,
        ex: &Exchange<'_>,
        res: &mut dyn Respond,
    ) -> Reply {
        if let Some(reply) = cors::preflight(&cors, req, res) {
            return reply;
        }
        let mut with = cors::WithCors::new(&cors, req, res);
        let reply = self.respond_to(req, ex, &mut with);
        with.finish(reply)
    }

    #[inline(always)]
    fn respond_to(&mut self, req: &Request<'_>, ex: &Exchange<'_>, res: &mut dyn Respond) -> Reply {
        let route = self.route(req, ex);
        // Controls come from a query, a marked field or `--default-params` (which the
        // operators' endpoints do not take); a request with none goes straight to its route,
        // and on the operators' port, every request does.
        let defaults = self.controls.defaults.is_some() && !route.is_operator();
        let may_have = !req.query.is_empty() || req.marked || defaults;
        if may_have && ex.port == PortRole::Main {
            if let Some(reply) = controls::answer(self, route, req, ex, res) {
                return reply;
            }
        }
        router::respond(self, route, req, ex, res)
    }
}
