// The display name this browser used last, offered again on the next pre-join.
const KEY = 'moot.displayName';

export const savedName = () => localStorage.getItem(KEY) ?? '';
export const saveName = (name: string) => localStorage.setItem(KEY, name);
