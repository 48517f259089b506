// Finding a grid: by its id (G123), its name or its village's (Chinese or English, any part of it), its
// township, its village id (T01-V02), or a herder chief's id (C-G123-2 is a chief of G123). One match opens
// the grid; several are listed as buttons; the browser's own suggestion list (a datalist) helps typing.

import { clear, h } from "./dom.js";
import { t } from "./i18n.js";

const MAX_LISTED = 12;
const CHIEF = /^c-(g\d{3,4})-\d+$/i;
const norm = (text) => String(text ?? "").toLowerCase().replace(/\s+/g, "");

export class GridSearch {
  /** ``onPick(grid_id)``; ``gridInfo(id)`` gives name and township_id; ``townshipName(id)`` in the page's language. */
  constructor({ form, input, datalist, results, onPick, gridInfo, townshipName }) {
    Object.assign(this, { form, input, datalist, results, onPick, gridInfo, townshipName });
    this.entries = [];
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run(input.value);
    });
    // A suggestion picked from the list puts its grid id in the box (no typing): open it at once.
    input.addEventListener("input", (e) => {
      const id = input.value.trim().toUpperCase();
      if ((!e.inputType || e.inputType === "insertReplacementText") && this.entries.some((x) => x.id === id)) this.run(id);
    });
  }

  /** Index the grids of the county map answer (``api.countyMap()``) and fill the suggestion list. */
  load(mapData) {
    const towns = new Map(mapData.townships.map((tw) => [tw.township_id, tw]));
    this.entries = mapData.grids.features.map(({ properties: p }) => {
      const tw = towns.get(p.township_id) ?? {};
      const words = [p.grid_id, p.grid_name, p.grid_name_zh, p.village_id, tw.township_name, tw.township_name_zh];
      return { id: p.grid_id, words: words.map(norm) };
    });
    this.relabel();
  }

  /** Suggestions in the page's language. */
  relabel() {
    clear(this.datalist).append(
      ...this.entries.map(({ id }) => {
        const info = this.gridInfo(id);
        return h("option", { value: id, label: `${info.name} · ${this.townshipName(info.township_id)}` });
      }),
    );
    this.hide();
  }

  reset() {
    this.entries = [];
    this.input.value = "";
    clear(this.datalist);
    this.hide();
  }

  hide() {
    clear(this.results).hidden = true;
  }

  /** The grid ids that ``query`` finds: an exact grid id or chief id first, else every grid whose words hold it. */
  find(query) {
    const q = norm(query);
    if (!q) return [];
    const exact = this.entries.find((x) => x.words[0] === q || x.words[0] === norm(CHIEF.exec(q)?.[1]));
    if (exact) return [exact.id];
    return this.entries.filter((x) => x.words.some((w) => w.includes(q))).map((x) => x.id);
  }

  /** Search and act: one grid opens, several are listed to choose from, none says so. */
  run(query) {
    const found = this.find(query);
    if (found.length === 1) {
      this.hide();
      this.onPick(found[0]);
      return found;
    }
    const buttons = found.slice(0, MAX_LISTED).map((id) => {
      const info = this.gridInfo(id);
      const b = h("button", { type: "button", class: "link", "data-grid": id, text: `${info.name} · ${this.townshipName(info.township_id)} (${id})` });
      b.addEventListener("click", () => {
        this.hide();
        this.onPick(id);
      });
      return h("li", {}, b);
    });
    const message = found.length ? t("search_many", { n: found.length, shown: buttons.length }) : t("search_none", { query });
    clear(this.results).append(h("p", { role: "status", text: message }), buttons.length ? h("ul", {}, buttons) : null);
    this.results.hidden = false;
    return found;
  }
}
