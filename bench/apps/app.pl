# The trivial app for hypnotoad, the same as bench/apps/server.ts: version (read at start from
# BENCH_VERSION_FILE; `throw` there makes the code fail at start) and pid in headers, /slow
# answers after 300 ms. The rig gives the port, worker count and PID file through the environment,
# so nothing is written beside this file.
use Mojolicious::Lite -signatures;
use Mojo::File qw(path);
use Mojo::IOLoop;

my $version = path($ENV{BENCH_VERSION_FILE})->slurp =~ s/\s+//gr;
die "bench app: the version file asks this code to fail at start\n" if $version eq 'throw';

app->config(hypnotoad => {
  listen   => ["http://127.0.0.1:$ENV{PORT}"],
  workers  => $ENV{BENCH_WORKERS} // 2,
  pid_file => $ENV{BENCH_PID_FILE},
});
app->log->level('warn');

helper answer => sub ($c) {
  $c->res->headers->header('X-Version' => $version)->header('X-Pid' => $$);
  $c->render(text => "version $version, pid $$\n");
};

get '/' => sub ($c) { $c->answer };

get '/slow' => sub ($c) {
  $c->render_later;
  Mojo::IOLoop->timer(0.3 => sub { $c->answer });
};

app->start;
