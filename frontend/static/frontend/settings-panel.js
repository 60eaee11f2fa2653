/**
 * settings-panel.js: the bell's small settings panel — mute a kind, do not
 * disturb for an hour, count muted notes as unread.
 *
 * Changes go over the socket (a "preferences" frame); what the panel shows
 * is only ever what the server last said ("preferences" frames, which every
 * tab of the user gets), so all tabs agree. Kinds are shown as text only.
 */

import { element } from "./dom.js";

export class SettingsPanel {
  #form;
  #toggle;
  #muted;
  #kind;
  #quiet;
  #count;
  #client;
  #strings;

  constructor(root, { client, strings }) {
    this.#form = root.querySelector("#notes-settings");
    this.#toggle = root.querySelector("#notes-settings-toggle");
    this.#muted = root.querySelector("#notes-settings-muted");
    this.#kind = root.querySelector("#notes-settings-kind");
    this.#quiet = root.querySelector("#notes-settings-quiet");
    this.#count = root.querySelector("#notes-settings-count");
    this.#client = client;
    this.#strings = strings;
    this.#toggle.addEventListener("click", () => {
      this.#form.hidden = !this.#form.hidden;
      this.#toggle.setAttribute("aria-expanded", String(!this.#form.hidden));
      if (!this.#form.hidden) this.#kind.focus();
    });
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      const kind = this.#kind.value.trim();
      if (kind && this.#client.setPreferences({ mute: [kind] })) this.#kind.value = "";
    });
    this.#quiet.addEventListener("change", () =>
      this.#client.setPreferences({ quiet_minutes: this.#quiet.checked ? 60 : 0 }),
    );
    this.#count.addEventListener("change", () =>
      this.#client.setPreferences({ count_muted: this.#count.checked }),
    );
  }

  /** Show the preferences the server sent (hello or a "preferences" frame). */
  show(preferences) {
    const muted = preferences.muted ?? [];
    this.#muted.replaceChildren(
      ...muted.map((kind) => {
        const item = element("li", "notes-settings-kind", kind);
        const unmute = element("button", "quiet", this.#strings.unmute);
        unmute.type = "button";
        unmute.setAttribute("aria-label", `${this.#strings.unmute}: ${kind}`);
        unmute.addEventListener("click", () => this.#client.setPreferences({ unmute: [kind] }));
        item.append(" ", unmute);
        return item;
      }),
    );
    this.#quiet.checked = Boolean(preferences.quiet_until);
    this.#count.checked = Boolean(preferences.count_muted);
  }
}
