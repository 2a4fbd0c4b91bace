// The short messages a meeting shows for a few seconds ("Link copied", "You were muted", a
// failed action), and how a failed API call becomes one.
import { ApiError } from './api';
import { Observable } from './store';

export interface Notice {
  id: number;
  key: string; // an i18n key
  params?: Record<string, unknown>;
  tone: 'info' | 'error';
}

const SHOWN_MS = 4000;
const AT_MOST = 3;

/** The i18n key (and its parameters) that explains a failed action. */
export function errorCode(error: unknown): { key: string; params?: Record<string, unknown> } {
  if (error instanceof ApiError) return { key: `errors.${error.code}`, params: { ...error.details, code: error.code } };
  return { key: 'errors.generic', params: { code: String(error) } };
}

export class Notices extends Observable<{ items: Notice[] }> {
  private lastId = 0;

  constructor() {
    super({ items: [] });
  }

  notify = (key: string, params?: Record<string, unknown>, tone: Notice['tone'] = 'info') => {
    const notice = { id: ++this.lastId, key, params, tone };
    this.set({ items: [...this.state.items, notice].slice(-AT_MOST) });
    window.setTimeout(() => this.set({ items: this.state.items.filter((n) => n.id !== notice.id) }), SHOWN_MS);
  };

  /** A failed action, explained. */
  fail = (error: unknown) => {
    const { key, params } = errorCode(error);
    this.notify(key, params, 'error');
  };
}
