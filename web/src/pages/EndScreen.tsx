// How this tab's meeting ended, said plainly: removed by the host, ended for everyone, left.
import { useTranslation } from 'react-i18next';
import { EndTranscript } from '../components/EndTranscript';
import { Header } from '../components/Header';
import { Icon, type IconName } from '../components/Icon';
import type { MeetingEnding } from '../meeting';
import { navigate } from '../router';

type Kind = MeetingEnding | 'removed_from_room' | 'room_ended' | 'room_not_found';

export function EndScreen({ ending, code, onRejoin }: { ending: Kind; code: string; onRejoin: () => void }) {
  const { t } = useTranslation();
  let icon: IconName = 'logout';
  let title: string;
  let body: string;
  let canRejoin = false;
  let rejoinLabel = t('end.rejoin');
  switch (ending) {
    case 'removed':
    case 'removed_from_room':
      icon = 'personRemove';
      title = t('end.removedTitle');
      body = t('end.removedBody');
      break;
    case 'ended':
    case 'room_ended':
      icon = 'callEnd';
      title = t('end.endedTitle');
      body = t('end.endedBody');
      break;
    case 'room_not_found':
    case 'not_found':
      icon = 'warning';
      title = t('errors.room_not_found');
      body = code;
      break;
    case 'otherTab':
      title = t('end.otherTabTitle');
      body = t('connection.otherTabBody');
      rejoinLabel = t('connection.continueHere');
      canRejoin = true;
      break;
    case 'gone':
      title = t('connection.goneTitle');
      body = t('connection.goneBody');
      canRejoin = true;
      break;
    default:
      title = t('end.leftTitle');
      body = t('end.leftBody');
      canRejoin = true;
  }
  return (
    <div className="page end">
      <Header />
      <main className="end-main" data-testid="end-screen" data-ending={ending}>
        <div className={`end-icon ${canRejoin ? '' : 'final'}`}>
          <Icon name={icon} size={36} />
        </div>
        <h1 role="status">{title}</h1>
        <p className="lead">{body}</p>
        {ending === 'ended' || ending === 'room_ended' ? <EndTranscript code={code} /> : null}
        <div className="end-actions">
          {canRejoin ? (
            <button type="button" className="button secondary large" onClick={onRejoin}>
              {rejoinLabel}
            </button>
          ) : null}
          <button type="button" className="button primary large" onClick={() => navigate('/')}>
            {t('common.backHome')}
          </button>
        </div>
      </main>
    </div>
  );
}
