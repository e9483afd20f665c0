// UI thread: renders and forwards user actions to the engine worker.
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
let nextId = 1;
const pending = new Map();
worker.onmessage = ({ data }) => {
  const entry = pending.get(data.id);
  if (!entry) return;
  pending.delete(data.id);
  data.ok ? entry.resolve(data.result) : entry.reject(new Error(data.error));
};
worker.onerror = (event) => {
  event.preventDefault();
  $("status").textContent = "failed to start";
  showError(new Error(`the engine worker failed: ${event.message || "could not load"}`));
};
function call(op, args, transfer = []) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
}

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
    const result = await call("traits");
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
        busy(toggle, async () => renderTraits(await call("setTraitEnabled", { id: t.id, enabled: !t.enabled }))),
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

function renderSignals(signals) {
  $("audit").hidden = signals.length === 0;
  $("signal-count").textContent = `${signals.length} signals on this device`;
  const sources = [...new Set(signals.map((s) => s.source))];
  $("source-actions").replaceChildren(
    ...sources.map((source) => {
      const button = el("button", { type: "button", class: "danger small", "data-source": source },
        `Remove all from ${SOURCES[source] || source}`);
      button.addEventListener("click", () =>
        busy(button, async () => renderState(await call("pruneSource", { source }))),
      );
      return button;
    }),
  );
  $("signals").replaceChildren(
    ...signals.slice(0, AUDIT_ROWS).map((signal) => {
      const grade = el("select", { "aria-label": `Privacy grade of ${signal.title}`, class: "grade" },
        ...Object.entries(GRADES).map(([value, g]) => {
          const option = el("option", { value, title: g.help }, g.label);
          if (value === signal.grade) option.selected = true;
          return option;
        }));
      grade.addEventListener("change", () =>
        busy(grade, async () => renderState(await call("setGrade", { id: signal.id, grade: grade.value }))),
      );
      const remove = el("button", { type: "button", class: "danger small", "aria-label": `Remove ${signal.title}` }, "Remove");
      remove.addEventListener("click", () =>
        busy(remove, async () => renderState(await call("prune", { id: signal.id }))),
      );
      return el("tr", { class: "signal", "data-id": signal.id },
        el("td", {}, el("span", { class: `badge badge-${signal.grade}`, title: GRADES[signal.grade].help },
          el("span", { class: "dot", "aria-hidden": "true" }, "●"), ` ${GRADES[signal.grade].label}`)),
        el("td", { class: "signal-title" }, signal.creator ? `${signal.title} — ${signal.creator}` : signal.title),
        el("td", {}, signal.kind),
        el("td", {}, SOURCES[signal.source] || signal.source),
        el("td", {}, signal.weight.toFixed(2)),
        el("td", {}, grade),
        el("td", {}, remove));
    }),
  );
  $("signals-more").textContent = signals.length > AUDIT_ROWS ? `Showing the first ${AUDIT_ROWS}.` : "";
}

function renderMatches(matches) {
  $("matches").replaceChildren(
    ...matches.map(({ candidate, explanation }) =>
      el(
        "li",
        { class: "match-card" },
        el("h3", {}, candidate.card.display_name),
        el("p", { class: "score" }, `Taste similarity ${Math.round(candidate.score * 100)}%`),
        el(
          "div",
          { class: "why", role: "group", "aria-label": "Why this match?" },
          el("span", { class: "why-label" }, "Why this match?"),
          ...explanation.chips.map((chip) => el("span", { class: `chip chip-${chip.kind.type}` }, chip.text)),
        ),
        el("p", { class: "card-traits" }, candidate.card.traits.map((t) => t.label).join(" · ")),
      ),
    ),
  );
  $("matches-empty").hidden = matches.length > 0;
}

async function importFile(file) {
  const bytes = await file.arrayBuffer();
  const state = await call("importFile", { bytes, format: $("format").value }, [bytes]);
  renderReport(state.report);
  renderState(state);
}

$("example").addEventListener("click", () => {
  $("favourites").value = EXAMPLE;
});

$("analyse").addEventListener("click", () =>
  busy($("analyse"), async () => {
    const state = await call("analyse", { text: $("favourites").value });
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
    const result = await call("publish", {
      displayName: $("display-name").value,
      showFavourites: Number($("show-favourites").value),
    });
    $("publish-status").textContent = `Published as ${result.userId} (${result.bytesSent} bytes left this device).`;
    $("matches-box").hidden = false;
  }),
);

$("find").addEventListener("click", () =>
  busy($("find"), async () => renderMatches(await call("matches", { k: 10 }))),
);

$("optout").addEventListener("click", () =>
  busy($("optout"), async () => {
    const result = await call("optOut");
    $("publish-status").textContent =
      `Opted out: the coordinator deleted ${result.deletedUserId} and this device forgot every signal. A new device key was made.`;
    $("user-id").textContent = result.userId;
    $("matches").replaceChildren();
    $("matches-box").hidden = true;
    $("report").hidden = true;
    renderState(result);
  }),
);

$("join-round").addEventListener("click", () =>
  busy($("join-round"), async () => {
    $("round-status").textContent = "Training on this device, then taking part in the round…";
    try {
      const r = await call("federatedRound");
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

call("init")
  .then((state) => {
    $("user-id").textContent = state.userId;
    $("model-version").textContent = `v${state.modelVersion}`;
    renderState(state);
    $("status").textContent = "ready";
    $("analyse").disabled = false;
  })
  .catch((error) => {
    $("status").textContent = "failed to start";
    showError(error);
  });
