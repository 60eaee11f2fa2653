/**
 * notes-api.js: the page's calls to /api/notes/ (session cookie + CSRF header).
 */

export class NotesApi {
  #listUrl;
  #readUrl;
  #csrfToken;

  constructor({ listUrl, readUrl, csrfToken }) {
    this.#listUrl = listUrl;
    this.#readUrl = readUrl;
    this.#csrfToken = csrfToken;
  }

  /** {notes: [...newest first], unread: n} */
  async list({ limit = 20 } = {}) {
    const url = new URL(this.#listUrl, window.location.href);
    url.searchParams.set("limit", String(limit));
    return answer(await fetch(url, { headers: { Accept: "application/json" } }));
  }

  /** {unread: n}; `keepalive` lets the request finish while the page navigates away. */
  async markRead(ids, { keepalive = false } = {}) {
    return this.#post({ ids }, { keepalive });
  }

  async markAllRead() {
    return this.#post({ all: true });
  }

  async #post(body, { keepalive = false } = {}) {
    const response = await fetch(this.#readUrl, {
      method: "POST",
      keepalive,
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": this.#csrfToken,
      },
      body: JSON.stringify(body),
    });
    return answer(response);
  }
}

async function answer(response) {
  if (!response.ok) throw new Error(`${response.url}: HTTP ${response.status}`);
  return response.json();
}
