// What the connection to the server is doing, said at the top of the meeting: lost (the call
// itself goes on peer to peer; the client reconnects with backoff), offline (waiting for the
// network), and, for a few seconds, back.
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { SocketStatus } from '../roomSocket';
import { Icon } from './Icon';

const BACK_SHOWN_MS = 3000;

function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
  return online;
}

export function ConnectionBanner({ status }: { status: SocketStatus }) {
  const { t } = useTranslation();
  const online = useOnline();
  // "Back" from the moment the socket is open again after it was lost, for a few seconds.
  const [seen, setSeen] = useState({ status, back: false });
  if (seen.status !== status) setSeen({ status, back: status === 'open' && seen.status === 'reconnecting' });
  const back = seen.back;
  useEffect(() => {
    if (!back) return;
    const timer = window.setTimeout(() => setSeen((current) => ({ ...current, back: false })), BACK_SHOWN_MS);
    return () => clearTimeout(timer);
  }, [back]);

  if (status === 'reconnecting')
    return (
      <div className="banner" role="status" data-testid="connection-banner" data-state={online ? 'lost' : 'offline'}>
        <Icon name="wifiOff" size={18} /> {online ? t('connection.lost') : t('connection.offline')}
      </div>
    );
  if (back)
    return (
      <div className="banner back" role="status" data-testid="connection-banner" data-state="back">
        <Icon name="check" size={18} /> {t('connection.back')}
      </div>
    );
  return null;
}
