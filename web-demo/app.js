// UI thread: renders and forwards user actions to the engine, which runs in a Worker
// (client/js/mesh.js and mesh-worker.js, copied into pkg/ by `cargo xtask wasm`).
import { Mesh } from "./pkg/mesh.js";

const mesh = new Mesh();

const $ = (id) => document.getElementById(id);
const EXAMPLE = [
  "Blade Runner (1982)",
  "The Matrix (1999)",
  "Alien (1979)",
  "book: Dune — Frank Herbert",
  "Radiohead",
  "Daft Punk",
  "A film the catalogue does not know (2011)",
].join("\n");
const GRADES = {
  public: { label: "public", help: "may appear on your public card" },
  limited: { label: "limited", help: "shapes your traits and explanations, never listed publicly" },
  private: { label: "private", help: "only shapes your taste vector" },
};
const SOURCES = {
  typed_list: "typed list", letterboxd: "Letterboxd", goodreads: "Goodreads", spotify: "Spotify",
  listenbrainz: "ListenBrainz", lastfm: "Last.fm", github: "GitHub", movielens: "MovieLens",
};
const AUDIT_ROWS = 200;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
}

async function busy(button, action) {
  if (button) button.disabled = true;
  showError(null);
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    if (button) button.disabled = false;
  }
}

function renderState(state) {
  renderSummary(state.summary);
  renderSignals(state.signals);
  if (state.summary) refreshTraits();
}

let traitsRequest = 0;
async function refreshTraits() {
  const ticket = ++traitsRequest;
  $("inferred-status").textContent = "Inferring traits on this device…";
  try {
    const result = await mesh.traits();
    if (ticket === traitsRequest) {
      if (result.summary) renderSummary(result.summary);
      renderTraits(result);
    }
  } catch (error) {
    if (ticket === traitsRequest) $("inferred-status").textContent = `Traits unavailable: ${error.message}`;
  }
}

function renderTraits({ traits, stats }) {
  if (stats) {
    const loaded = stats.encoderLoadMs === null
      ? "encoder not needed (all cached)"
      : `encoder loaded in ${Math.round(stats.encoderLoadMs)} ms`;
    $("inferred-status").textContent =
      `${traits.favourites_embedded} of ${traits.favourites_total} favourites embedded on this device ` +
      `(${stats.embedded} new in ${Math.round(stats.embedMs)} ms, ${stats.cached} from the cache; ${loaded}).`;
  }
  $("inferred-summary").textContent = traits.summary;
  $("inferred-traits").replaceChildren(
    ...traits.traits.map((t) => {
      const toggle = el("button", {
        type: "button",
        class: t.enabled ? "small" : "small secondary",
        "aria-pressed": String(!t.enabled),
        "data-trait": t.id,
      }, t.enabled ? "Turn off" : "Turn back on");
      toggle.addEventListener("click", () =>
        busy(toggle, async () => renderTraits(await mesh.setTraitEnabled(t.id, !t.enabled))),
      );
      return el("li", { class: t.enabled ? "inferred-trait" : "inferred-trait off", "data-trait": t.id },
        el("strong", {}, `${t.label} · ${Math.round(t.score * 100)}%`),
        el("span", { class: "explanation" }, ` ${t.explanation} ${t.enabled ? "" : "(off: never published)"}`),
        toggle);
    }),
  );
}

function renderSummary(summary) {
  $("summary").hidden = !summary;
  $("publish-box").hidden = !summary;
  $("round-box").hidden = !summary;
  if (!summary) return;
  const known = summary.favourites.filter((f) => f.in_catalogue).length;
  $("favourite-count").textContent =
    `${summary.favourites.length} favourites (${known} recognised from the catalogue)`;
  $("traits").replaceChildren(
    ...(summary.traits.length
      ? summary.traits.map((t) => el("li", { class: "trait" }, `${t.label} · ${Math.round(t.strength * 100)}%`))
      : [el("li", {}, "No readable traits yet: none of your public or limited favourites are in the catalogue.")]),
  );
  const max = Math.max(...summary.vector_preview.map(Math.abs), 1e-6);
  $("vector").replaceChildren(
    ...summary.vector_preview.map((x) => {
      const bar = el("span", { class: x >= 0 ? "bar pos" : "bar neg", title: x.toFixed(4) });
      bar.style.height = `${Math.round((Math.abs(x) / max) * 40) + 2}px`;
      return bar;
    }),
  );
  $("fingerprint").textContent = summary.vector_fingerprint;
  $("hash-fingerprint").textContent = summary.hashes_fingerprint;
}

function renderReport(report) {
  $("report").hidden = false;
  const rows = report.rows === null ? "" : ` ${report.imported_rows} of ${report.rows} rows imported`;
  const merged = report.duplicates_merged ? `, ${report.duplicates_merged} duplicates merged` : "";
  const from = report.format ? `${SOURCES[report.source] || report.source}:` : "Typed list:";
  $("report-summary").textContent =
    `${from}${rows}${merged}${report.favourites !== undefined ? `, ${report.favourites} distinct favourites` : ""}; ${report.skipped.length} skipped.`;
  $("report-skipped").replaceChildren(...report.skipped.map((s) => el("li", {}, `line ${s.line}: ${s.reason}`)));
}

/// The audit controls of one row: its grade badge, a grade picker and a remove button, each
/// calling back with the action (`onGrade(newGrade)`, `onRemove()`) busy-guarded.
function auditControls(grade, name, onGrade, onRemove) {
  const picker = el("select", { "aria-label": `Privacy grade of ${name}`, class: "grade" },
    ...Object.entries(GRADES).map(([value, g]) => {
      const option = el("option", { value, title: g.help }, g.label);
      if (value === grade) option.selected = true;
      return option;
    }));
  picker.addEventListener("change", () => busy(picker, () => onGrade(picker.value)));
  const remove = el("button", { type: "button", class: "danger small", "aria-label": `Remove ${name}` }, "Remove");
  remove.addEventListener("click", () => busy(remove, onRemove));
  const badge = el("span", { class: `badge badge-${grade}`, title: GRADES[grade].help },
    el("span", { class: "dot", "aria-hidden": "true" }, "●"), ` ${GRADES[grade].label}`);
  return { badge, picker, remove };
}

function renderSignals(signals) {
  $("audit").hidden = signals.length === 0;
  $("signal-count").textContent = `${signals.length} signals on this device`;
  const sources = [...new Set(signals.map((s) => s.source))];
  $("source-actions").replaceChildren(
    ...sources.map((source) => {
      const button = el("button", { type: "button", class: "danger small", "data-source": source },
        `Remove all from ${SOURCES[source] || source}`);
      button.addEventListener("click", () =>
        busy(button, async () => renderState(await mesh.pruneSource(source))),
      );
      return button;
    }),
  );
  $("signals").replaceChildren(
    ...signals.slice(0, AUDIT_ROWS).map((signal) => {
      const { badge, picker, remove } = auditControls(signal.grade, signal.title,
        async (grade) => renderState(await mesh.setGrade(signal.id, grade)),
        async () => renderState(await mesh.prune(signal.id)));
      return el("tr", { class: "signal", "data-id": signal.id },
        el("td", {}, badge),
        el("td", { class: "signal-title" }, signal.creator ? `${signal.title} — ${signal.creator}` : signal.title),
        el("td", {}, signal.kind),
        el("td", {}, SOURCES[signal.source] || signal.source),
        el("td", {}, signal.weight.toFixed(2)),
        el("td", {}, picker),
        el("td", {}, remove));
    }),
  );
  $("signals-more").textContent = signals.length > AUDIT_ROWS ? `Showing the first ${AUDIT_ROWS}.` : "";
}

const SWIPE_PX = 80;

/// Swipe-to-tune: right (or →) asks for more like this person, left (or ←) for less.
async function tune(card, candidate, moreLikeThis) {
  await mesh.feedback(candidate.user_id, moreLikeThis);
  card.classList.toggle("tuned-more", moreLikeThis);
  card.classList.toggle("tuned-less", !moreLikeThis);
  $("tune-status").textContent =
    `Noted: ${moreLikeThis ? "more" : "less"} like ${candidate.card.display_name}. The next suggestions take it into account.`;
}

function matchCard({ candidate, explanation }, { actions }) {
  const name = candidate.card.display_name;
  const category = candidate.card.traits[0]?.label;
  const card = el("li", { class: "match-card", tabindex: "0", "data-user": candidate.user_id, "aria-label": `${name}, taste similarity ${Math.round(candidate.score * 100)}%` },
    el("h3", {}, name),
    el("p", { class: "score" }, `Taste similarity ${Math.round(candidate.score * 100)}%`),
    el("div", { class: "why", role: "group", "aria-label": "Why this match?" },
      el("span", { class: "why-label" }, "Why this match?"),
      ...explanation.chips.map((chip) => el("span", { class: `chip chip-${chip.kind.type}` }, chip.text))),
    el("p", { class: "card-traits" }, candidate.card.traits.map((t) => t.label).join(" · ")));
  if (!actions) return card;
  const mutual = el("p", { class: "mutual", role: "status" });
  const button = (label, className, handler) => {
    const b = el("button", { type: "button", class: `small ${className}` }, label);
    b.addEventListener("click", () => busy(b, handler));
    return b;
  };
  card.append(el("div", { class: "card-actions" },
    button("← Less like this", "secondary", () => tune(card, candidate, false)),
    button("More like this →", "", () => tune(card, candidate, true)),
    ...(category ? [button(`Snooze “${category}” for 30 days`, "secondary", async () => {
      await mesh.snooze(category);
      $("tune-status").textContent = `Snoozed: no “${category}” suggestions for 30 days.`;
    })] : []),
    button("Mutual favourites", "secondary", async () => {
      mutual.textContent = `Waiting for ${name} to take part (up to a minute)…`;
      const r = await mesh.mutualFavourites(candidate.user_id);
      mutual.textContent = r.titles.length
        ? `You both like: ${r.titles.join(", ")}.`
        : "No favourites in common (among those you graded public or limited).";
      mutual.dataset.bytes = `${r.sent + r.received}`;
      mutual.title = `${r.offered} of your favourites took part, blinded; ${r.sent} bytes sent, ${r.received} received.`;
    }),
    button("Block", "danger", async () => {
      await mesh.block(candidate.user_id);
      card.remove();
      $("tune-status").textContent = `Blocked ${name}: you will not see each other again.`;
    })),
  mutual);
  card.addEventListener("keydown", (event) => {
    if (event.target !== card) return;
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      busy(null, () => tune(card, candidate, event.key === "ArrowRight"));
    }
  });
  let startX = null;
  card.addEventListener("pointerdown", (event) => { startX = event.clientX; });
  card.addEventListener("pointerup", (event) => {
    if (startX === null) return;
    const dx = event.clientX - startX;
    startX = null;
    if (Math.abs(dx) >= SWIPE_PX) busy(null, () => tune(card, candidate, dx > 0));
  });
  return card;
}

const TONE_LABELS = ["supportive", "humorous", "analytical"];

/// "19–23 UTC (UTC+1)" from a 24-bit hour mask in 2-hour blocks.
function describeHours({ active_hours_utc: mask, utc_offset_hours: offset }) {
  const runs = [];
  for (let h = 0; h < 24; h++) {
    if (!(mask & (1 << h))) continue;
    if (runs.length && runs[runs.length - 1][1] === h) runs[runs.length - 1][1] = h + 1;
    else runs.push([h, h + 1]);
  }
  const zone = offset === 0 ? "UTC" : `UTC${offset > 0 ? "+" : "−"}${Math.abs(offset)}`;
  return `${runs.map(([a, b]) => `${a}–${b}`).join(", ")} UTC (your time zone: ${zone})`;
}

function renderActivity(view) {
  const rows = [];
  const row = (kind, grade, text) => {
    const { badge, picker, remove } = auditControls(grade, text,
      async (next) => renderActivity(await mesh.setSummaryGrade(kind, next)),
      async () => renderActivity(await mesh.pruneSummary(kind)));
    rows.push(el("tr", { class: "summary-row", "data-kind": kind },
      el("td", {}, badge), el("td", {}, text), el("td", {}, picker), el("td", {}, remove)));
  };
  if (view.activity) row("activity_windows", view.activity_grade, `Usually online ${describeHours(view.activity)}`);
  if (view.tone) {
    row("tone", view.tone_grade, `Tone of your posts: ${view.tone.tenths.map((t, i) => `${TONE_LABELS[i]} ${t * 10}%`).join(", ")} (${view.posts_scored} posts)`);
  }
  $("behaviour").replaceChildren(...rows);
  $("engagement").textContent = view.interactions
    ? `${view.interactions} interactions on ${view.active_days} day(s), kept on this device and never published: ` +
      `mean dwell ${view.mean_dwell_s.toFixed(1)} s, ${view.scroll_pauses_per_day.toFixed(1)} scroll pauses and ` +
      `${view.replays_per_day.toFixed(1)} replays a day, ${view.room_minutes.toFixed(1)} minutes in rooms` +
      (view.activity ? "." : " (usual hours appear after 5 interactions).")
    : "No interactions recorded yet.";
}

// Micro-interactions, batched to the worker (which keeps them on the device).
const pendingInteractions = [];
function noteInteraction(kind, durationMs = 0) {
  pendingInteractions.push({ kind, durationMs, atMs: Date.now(), offsetMinutes: -new Date().getTimezoneOffset() });
  if (pendingInteractions.length >= 5) flushInteractions();
}
async function flushInteractions() {
  if (!pendingInteractions.length || $("status").textContent !== "ready") return;
  try {
    renderActivity(await mesh.recordInteractions(pendingInteractions.splice(0)));
  } catch (error) {
    showError(error);
  }
}
setInterval(flushInteractions, 10_000);
document.addEventListener("visibilitychange", flushInteractions);
let scrollTimer = null;
let scrolledSincePause = 0;
let lastScrollY = window.scrollY;
// A resize scrolls the page without the person doing anything: not an interaction.
let resizedAt = 0;
window.addEventListener("resize", () => { resizedAt = performance.now(); });
window.addEventListener("scroll", () => {
  if (performance.now() - resizedAt < 500) {
    lastScrollY = window.scrollY;
    return;
  }
  scrolledSincePause += Math.abs(window.scrollY - lastScrollY);
  lastScrollY = window.scrollY;
  clearTimeout(scrollTimer);
  scrollTimer = setTimeout(() => {
    if (scrolledSincePause >= 200) noteInteraction("scroll_pause");
    scrolledSincePause = 0;
  }, 600);
}, { passive: true });
const visibleSince = new Map();
const dwellObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) visibleSince.set(entry.target, performance.now());
    else if (visibleSince.has(entry.target)) {
      const ms = performance.now() - visibleSince.get(entry.target);
      visibleSince.delete(entry.target);
      if (ms >= 1000) noteInteraction("dwell", ms);
    }
  }
}, { threshold: 0.6 });

function renderMatches(matches) {
  $("matches").replaceChildren(...matches.map((m) => matchCard(m, { actions: true })));
  for (const card of $("matches").children) dwellObserver.observe(card);
  $("matches-empty").hidden = matches.length > 0;
}

async function importFile(file) {
  const bytes = await file.arrayBuffer();
  const state = await mesh.importFile(bytes, $("format").value);
  renderReport(state.report);
  renderState(state);
}

$("example").addEventListener("click", () => {
  $("favourites").value = EXAMPLE;
});

$("analyse").addEventListener("click", () =>
  busy($("analyse"), async () => {
    const state = await mesh.analyse($("favourites").value);
    renderReport(state.report);
    renderState(state);
  }),
);

$("file-input").addEventListener("change", () =>
  busy(null, async () => {
    for (const file of $("file-input").files) await importFile(file);
    $("file-input").value = "";
  }),
);
const drop = $("drop-zone");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  busy(null, async () => {
    for (const file of event.dataTransfer.files) await importFile(file);
  });
});

$("publish").addEventListener("click", () =>
  busy($("publish"), async () => {
    if (!$("consent").checked) throw new Error("Tick “Make me discoverable” to publish.");
    const result = await mesh.publish($("display-name").value, Number($("show-favourites").value));
    $("publish-status").textContent = `Published as ${result.userId} (${result.bytesSent} bytes left this device).`;
    $("matches-box").hidden = false;
    $("room-box").hidden = false;
  }),
);

$("find").addEventListener("click", () =>
  busy($("find"), async () => {
    if ($("matches").children.length) noteInteraction("replay");
    renderMatches(await mesh.matches(10));
  }),
);

$("optout").addEventListener("click", () =>
  busy($("optout"), async () => {
    // Interactions of the person leaving are never stored: drop what is pending and stop
    // watching their cards and room before the wipe (a card removed later would report a
    // dwell, and a room left later its time, into the new identity's log).
    dwellObserver.disconnect();
    visibleSince.clear();
    clearTimeout(scrollTimer);
    scrolledSincePause = 0;
    clearInterval(roomTimer);
    roomSince = null;
    pendingInteractions.length = 0;
    const result = await mesh.optOut();
    pendingInteractions.length = 0;
    $("publish-status").textContent =
      `Opted out: the coordinator deleted ${result.deletedUserId} and this device forgot every signal. A new device key was made.`;
    $("user-id").textContent = result.userId;
    $("matches").replaceChildren();
    $("matches-box").hidden = true;
    $("room-box").hidden = true;
    $("room-people").replaceChildren();
    renderIntents([]);
    renderActivity(result.activity ?? { interactions: 0, activity: null, tone: null });
    $("report").hidden = true;
    renderState(result);
  }),
);

const INTENT_LABELS = {
  collaborators: "looking for collaborators", project_feedback: "wanting feedback on a project",
  friends: "looking for friends", mentoring: "mentoring",
};

function renderIntents(active) {
  for (const box of document.querySelectorAll("input[name=intent]")) {
    box.checked = active.some((f) => f.topic === box.value);
  }
  $("intents-status").textContent = active.length
    ? `Active: ${active.map((f) => `${INTENT_LABELS[f.topic]} until ${new Date(f.until).toLocaleString()}`).join("; ")}.`
    : "No intent flags active.";
}

$("save-intents").addEventListener("click", () =>
  busy($("save-intents"), async () => {
    const ttl_hours = Number($("intent-ttl").value);
    const flags = [...document.querySelectorAll("input[name=intent]:checked")].map((box) => ({ topic: box.value, ttl_hours }));
    renderIntents(await mesh.setIntents(flags));
  }),
);

$("score-tone").addEventListener("click", () =>
  busy($("score-tone"), async () => {
    renderActivity(await mesh.scoreTone($("posts").value.split("\n")));
    $("posts").value = "";
  }),
);

let roomTimer = null;
let roomSince = null;
$("join-room").addEventListener("click", () =>
  busy($("join-room"), async () => {
    const refresh = async () => {
      if (roomSince !== null) noteInteraction("room", Date.now() - roomSince);
      roomSince = Date.now();
      const room = $("room").value;
      const people = await mesh.room(room, 10);
      $("room-people").replaceChildren(...people.map((m) => matchCard(m, { actions: true })));
      $("room-people").dataset.refreshes = String(Number($("room-people").dataset.refreshes || 0) + 1);
      $("room-status").textContent =
        `In “${$("room").selectedOptions[0].textContent}”: ${people.length} other ${people.length === 1 ? "person" : "people"} active now (refreshed ${new Date().toLocaleTimeString()}).`;
    };
    await refresh();
    clearInterval(roomTimer);
    // Presence lasts 60 s; a heartbeat every 20 s keeps this person in the room.
    roomTimer = setInterval(() => refresh().catch(showError), 20_000);
  }),
);

// The demo's rounds are a handful of tabs on one machine: it lowers the package's cohort floor
// (20 devices) to 3 and says so on the page. Every other floor (noise, δ, budget) is the default.
const DEMO_FLOORS = { min_cohort: 3 };

$("join-round").addEventListener("click", () =>
  busy($("join-round"), async () => {
    $("round-status").textContent = "Training on this device, then taking part in the round…";
    try {
      $("round-progress").value = 0;
      const r = await mesh.federatedRound(({ step, of, phase }) => {
        $("round-progress").value = step;
        $("round-status").textContent = `Step ${step} of ${of}: ${phase}…`;
      }, { floors: DEMO_FLOORS });
      $("round-progress").value = 6;
      $("round-facts").hidden = false;
      $("round-model").textContent = r.newModelVersion ? `v${r.modelVersion} → v${r.newModelVersion}` : `v${r.modelVersion}`;
      $("round-bytes").textContent = `${r.bytesUp.toLocaleString()} bytes up, ${r.bytesDown.toLocaleString()} down`;
      $("round-epsilon").textContent =
        `${r.deviceEpsilon.toFixed(2)} this round for this device (${r.deviceEpsilonTotal.toFixed(2)} of its budget spent)` +
        (r.epsilon !== null ? `; the coordinator reports ${r.epsilon.toFixed(2)} for the survivors it had` : "");
      $("round-status").textContent =
        `Round ${r.round}: ${r.outcome}${r.newModelVersion ? `, model v${r.modelVersion} → v${r.newModelVersion}` : ""}. ` +
        `Left this device: ${r.bytesUp.toLocaleString()} bytes (keys, encrypted shares, the masked update, a signature, unmasking shares); ` +
        `update norm ${r.normBeforeClip.toFixed(3)}${r.clipped ? `, clipped to ${r.clip}` : ` (within the clip of ${r.clip})`}; ` +
        (r.noiseMultiplier > 0
          ? `noised on this device (z = ${r.noiseMultiplier}): ε = ${r.epsilon?.toFixed(2)} this round, ${r.epsilonTotal?.toFixed(2)} in all; `
          : "no differential-privacy noise in this round; ") +
        `local loss ${r.lossBefore.toFixed(3)} → ${r.lossAfter.toFixed(3)}.`;
    } catch (error) {
      $("round-status").textContent = `Not part of a round: ${error.message}`;
      throw error;
    }
  }),
);

mesh.init()
  .then((state) => {
    $("user-id").textContent = state.userId;
    $("model-version").textContent = `v${state.modelVersion}`;
    renderState(state);
    renderIntents(state.intents || []);
    renderActivity(state.activity);
    $("status").textContent = "ready";
    $("analyse").disabled = false;
    $("save-intents").disabled = false;
  })
  .catch((error) => {
    $("status").textContent = "failed to start";
    showError(error);
  });
