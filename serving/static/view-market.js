// The market view: township and species selectors, and two fan charts (head sold, price): the recorded
// history and the forecast's median with its 50 % and 95 % bands.

import * as api from "./api.js";
import { fanChart } from "./charts.js";
import { clear, h } from "./dom.js";
import { t } from "./i18n.js";
import { errorLine, loadingLine } from "./widgets.js";

const SPECIES = ["yak", "sheep", "goat", "horse"];
const HISTORY_MONTHS = 36;

/** Market view: township and species selectors, two fan charts (head sold, price). */
export class MarketView {
  constructor(root) {
    this.root = root;
    this.generation = 0;
    this.township = null;
    this.species = "yak";
  }

  reset() {
    this.generation++;
    clear(this.root);
  }

  render(townships, townshipName) {
    this.township ??= townships[0]?.township_id;
    const tSelect = h(
      "select",
      { id: "market-township" },
      townships.map((tw) => h("option", { value: tw.township_id, selected: tw.township_id === this.township, text: townshipName(tw.township_id) })),
    );
    const sSelect = h(
      "select",
      { id: "market-species" },
      SPECIES.map((sp) => h("option", { value: sp, selected: sp === this.species, text: t(sp) })),
    );
    this.charts = h("div", { class: "charts" });
    tSelect.addEventListener("change", () => {
      this.township = tSelect.value;
      this.load();
    });
    sSelect.addEventListener("change", () => {
      this.species = sSelect.value;
      this.load();
    });
    clear(this.root).append(
      h("h2", { text: t("market_title") }),
      h(
        "div",
        { class: "controls" },
        h("label", {}, `${t("township")} `, tSelect),
        h("label", {}, `${t("species")} `, sSelect),
      ),
      this.charts,
    );
    return this.load();
  }

  async load() {
    const generation = ++this.generation;
    clear(this.charts).append(loadingLine());
    try {
      const [fc, hist] = await Promise.all([
        api.marketForecast(this.township, this.species),
        api.marketHistory(this.township, this.species, HISTORY_MONTHS),
      ]);
      if (generation !== this.generation) return;
      clear(this.charts).append(
        fanChart({
          title: t("head_sold"),
          history: hist.points.map((p) => ({ month: p.month, value: p.head_sold })),
          forecast: fc.head_sold,
          sentence: fc.head_sold[0]?.explanation.sentence,
        }),
        fanChart({
          title: t("price"),
          history: hist.points.map((p) => ({ month: p.month, value: p.price_yuan_per_head })),
          forecast: fc.price,
          sentence: fc.price[0]?.explanation.sentence,
          zero: false,
        }),
      );
    } catch (err) {
      if (generation === this.generation) clear(this.charts).append(errorLine(err));
    }
  }
}
