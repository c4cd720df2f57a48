import { DASHBOARD_SCRIPT } from './dashboard-script';

/** What the page is made with. */
export interface PageValues {
  /** The nonce of this response's Content-Security-Policy, for the page's style and script. */
  nonce: string;
  /** The CSRF token the page sends with every change. */
  csrf: string;
  title: string;
  historyLimit: number;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]);
}

const STYLE = String.raw`
:root {
  --bg: #f5f6f8; --panel: #ffffff; --line: #e4e7ec; --line-soft: #eef0f3; --text: #1d2433; --muted: #667085;
  --accent: #2f5bd3; --accent-soft: #eaf0fd; --ok: #12764a; --ok-soft: #e5f4ec; --bad: #b42318; --bad-soft: #fdecea;
  --warn: #a44b07; --warn-soft: #fdf1e3; --idle: #5d6678; --idle-soft: #eef0f4; --head: #151b28;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html, body { margin: 0; }
body { background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header.top { background: var(--head); color: #fff; padding: 0 28px; height: 56px; display: flex; align-items: center; gap: 14px; }
header.top svg { flex: none; }
header.top h1 { font-size: 16px; font-weight: 600; margin: 0; letter-spacing: .01em; }
header.top .product { color: #a7b0c2; font-weight: 400; }
header.top .spacer { flex: 1; }
.updated { color: #a7b0c2; font-size: 12px; }
.live { display: inline-flex; align-items: center; gap: 7px; font-size: 12px; color: #d6dbe6; background: rgba(255,255,255,.08); border-radius: 999px; padding: 4px 11px; }
.live .dot { width: 8px; height: 8px; border-radius: 50%; background: #98a2b3; }
.live.on .dot { background: #3ccf8e; box-shadow: 0 0 0 3px rgba(60,207,142,.2); }
.live.off .dot { background: #f79009; }
main { padding: 22px 28px 40px; max-width: 1480px; margin: 0 auto; }
.cards { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 14px; margin-bottom: 20px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; font-weight: 600; }
.card .value { font-size: 26px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card.alert .value { color: var(--bad); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; margin-bottom: 20px; overflow: hidden; }
.panel > .head { display: flex; align-items: center; gap: 12px; padding: 12px 16px; border-bottom: 1px solid var(--line); }
.panel > .head h2 { font-size: 14px; font-weight: 600; margin: 0; flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
input.filter { border: 1px solid var(--line); border-radius: 7px; padding: 6px 10px; font: inherit; width: 240px; background: #fbfcfd; color: var(--text); }
input.filter:focus { outline: 2px solid var(--accent-soft); border-color: var(--accent); }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-size: 11.5px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 600; padding: 9px 16px; background: #fafbfc; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 10px 16px; border-bottom: 1px solid var(--line-soft); vertical-align: middle; }
tbody tr:last-child td { border-bottom: 0; }
tr.job { cursor: pointer; }
tr.job:hover td { background: #f8f9fb; }
tr.job.is-selected td { background: var(--accent-soft); }
tr.job.is-selected td:first-child { box-shadow: inset 3px 0 0 var(--accent); }
tr.job.is-paused .job-name { color: var(--muted); }
.job-name { font-weight: 600; word-break: break-word; }
.sub { color: var(--muted); font-size: 12px; }
.mono { font-family: var(--mono); font-size: 12px; }
.num { font-variant-numeric: tabular-nums; }
td.num, th.num { text-align: right; }
td.actions { text-align: right; white-space: nowrap; }
td.next, td.last, td.started { white-space: nowrap; }
time.rel { font-variant-numeric: tabular-nums; }
.badge { display: inline-block; font-size: 11.5px; font-weight: 600; padding: 2px 8px; border-radius: 999px; white-space: nowrap; }
.badge-succeeded, .badge-active { color: var(--ok); background: var(--ok-soft); }
.badge-failed { color: var(--bad); background: var(--bad-soft); }
.badge-timed-out { color: var(--warn); background: var(--warn-soft); }
.badge-paused, .badge-muted { color: var(--idle); background: var(--idle-soft); }
.badge-running { color: var(--accent); background: var(--accent-soft); }
.btn { font: inherit; font-size: 12.5px; font-weight: 500; border: 1px solid #d0d5dd; background: #fff; color: var(--text); border-radius: 7px; padding: 4px 10px; margin-left: 6px; cursor: pointer; }
.btn:hover { background: #f4f5f7; }
.btn:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.btn-primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.btn-primary:hover { background: #2850bd; }
.btn-danger { color: var(--bad); border-color: #f3c5c0; }
.btn-danger:hover { background: var(--bad-soft); }
.btn-link { border: 0; background: none; color: var(--accent); padding: 0; margin: 0; }
.btn-link:hover { background: none; text-decoration: underline; }
#runs td.job-name { white-space: nowrap; }
td.error { color: var(--bad); max-width: 480px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.instance { max-width: 160px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.empty { padding: 26px 16px; text-align: center; color: var(--muted); }
.note { padding: 10px 16px; color: var(--bad); font-size: 12.5px; }
.toast { position: fixed; right: 24px; bottom: 24px; background: var(--head); color: #fff; padding: 10px 16px; border-radius: 8px; font-size: 13px; opacity: 0; transform: translateY(8px); transition: opacity .15s, transform .15s; pointer-events: none; max-width: 460px; }
.toast.show { opacity: 1; transform: none; }
.toast.error { background: var(--bad); }
@media (max-width: 1000px) { .cards { grid-template-columns: repeat(3, minmax(0, 1fr)); } }
`;

const LOGO =
  '<svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true"><path d="M9 2h6l4.5 19a1 1 0 0 1-1 1.2H5.5a1 1 0 0 1-1-1.2z" fill="none" stroke="#8fb0ff" stroke-width="1.8" stroke-linejoin="round"/><path d="M12 17L16.5 6" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/><circle cx="15.4" cy="8.8" r="1.7" fill="#fff"/><path d="M7 17h10" stroke="#8fb0ff" stroke-width="1.8" stroke-linecap="round"/></svg>';

/** The dashboard's page: one HTML document with its style and script inline, allowed by the response's nonce. */
export function renderPage({ nonce, csrf, title, historyLimit }: PageValues): string {
  const n = escapeHtml(nonce);
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<meta name="metronome-csrf" content="${escapeHtml(csrf)}">
<title>${t}</title>
<link rel="icon" href="data:,">
<style nonce="${n}">${STYLE}</style>
</head>
<body data-history-limit="${historyLimit}">
<header class="top">
${LOGO}
<h1>${t} <span class="product">· Metronome</span></h1>
<div class="spacer"></div>
<span class="updated" id="updated"></span>
<span class="live" id="live"><span class="dot"></span><span>Connecting…</span></span>
</header>
<main>
<section class="cards" aria-label="Summary">
<div class="card"><div class="label">Jobs</div><div class="value" id="count-jobs">–</div></div>
<div class="card"><div class="label">Running now</div><div class="value" id="count-running">–</div></div>
<div class="card"><div class="label">Paused</div><div class="value" id="count-paused">–</div></div>
<div class="card" id="card-failing"><div class="label">Last run failed</div><div class="value" id="count-failing">–</div></div>
<div class="card"><div class="label">Instances</div><div class="value" id="count-instances">–</div></div>
</section>
<section class="panel" aria-labelledby="jobs-title">
<div class="head"><h2 id="jobs-title">Jobs</h2><input class="filter" id="filter" type="search" placeholder="Filter by name" aria-label="Filter jobs by name"></div>
<table id="jobs">
<thead><tr><th>Job</th><th>Schedule</th><th>Next run</th><th>Last run</th><th class="num">Runs</th><th>Status</th><th></th></tr></thead>
<tbody id="jobs-body"></tbody>
</table>
<div class="empty" id="jobs-empty">Loading…</div>
</section>
<section class="panel" aria-labelledby="runs-title">
<div class="head"><h2 id="runs-title">Recent runs</h2><button class="btn btn-link" id="runs-all" type="button" hidden>Show all jobs</button></div>
<table id="runs">
<thead><tr><th>Started</th><th>Job</th><th>Outcome</th><th class="num">Duration</th><th class="num">Attempt</th><th>Instance</th><th>Error</th></tr></thead>
<tbody id="runs-body"></tbody>
</table>
<div class="empty" id="runs-empty">No runs yet.</div>
</section>
<section class="panel" aria-labelledby="instances-title">
<div class="head"><h2 id="instances-title">Instances</h2></div>
<table id="instances">
<thead><tr><th>Instance</th><th>Started</th><th>Checked in</th><th class="num">Running</th></tr></thead>
<tbody id="instances-body"></tbody>
</table>
<div class="note" id="instances-error" hidden></div>
</section>
</main>
<div class="toast" id="toast" role="status" aria-live="polite"></div>
<noscript><p class="empty">The dashboard needs JavaScript.</p></noscript>
<script nonce="${n}">${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
}
