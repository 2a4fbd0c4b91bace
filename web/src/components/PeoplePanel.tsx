// Who is in the meeting; for the host, what can be done about each of them.
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Meeting } from '../meeting';
import { useObservable } from '../store';
import type { Participant } from '../types';
import { Icon } from './Icon';
import { Avatar, ConfirmDialog, IconButton, Menu, MenuItem } from './ui';

export function PeoplePanel({
  meeting,
  speaking,
  localMic,
}: {
  meeting: Meeting;
  speaking: Set<string>;
  localMic: boolean;
}) {
  const { t } = useTranslation();
  const state = useObservable(meeting);
  const { remotes } = useObservable(meeting.media);
  const { transcription } = useObservable(meeting.transcript);
  const [removing, setRemoving] = useState<Participant | null>(null);
  const you = state.you.participant_id;
  const isHost = state.you.role === 'host';
  const transcriber = transcription?.enabled ? transcription.host_id : null;
  return (
    <div className="people-panel">
      <p className="panel-subtitle">
        {t('people.inCall')} · {state.participants.length}
      </p>
      <ul className="people" aria-label={t('people.title')}>
        {state.participants.map((person) => {
          const isYou = person.participant_id === you;
          const mic = isYou ? localMic : (remotes.get(person.participant_id)?.mic ?? true);
          return (
            <li
              key={person.participant_id}
              className="person"
              data-testid="person"
              data-participant-id={person.participant_id}
            >
              <Avatar name={person.display_name} id={person.participant_id} size={36} />
              <div className="person-text">
                <span className="person-name">
                  {person.display_name}
                  {isYou ? ` (${t('common.you')})` : ''}
                </span>
                <span className="person-role">
                  {person.role === 'host' ? t('common.host') : ''}
                  {person.role === 'host' && transcriber === person.participant_id ? ' · ' : ''}
                  {transcriber === person.participant_id ? t('host.transcriber') : ''}
                </span>
              </div>
              <span className={`person-mic ${speaking.has(person.participant_id) ? 'speaking' : ''}`}>
                <Icon name={mic ? 'mic' : 'micOff'} size={20} />
              </span>
              {isHost && !isYou ? (
                <Menu
                  label={t('host.actionsFor', { name: person.display_name })}
                  trigger={({ toggle }) => (
                    <IconButton
                      icon="more"
                      label={t('host.actionsFor', { name: person.display_name })}
                      onClick={toggle}
                      className="small"
                    />
                  )}
                >
                  {(close) => (
                    <>
                      <MenuItem
                        icon="micOff"
                        onSelect={() => (close(), void meeting.muteParticipant(person.participant_id))}
                      >
                        {t('host.mute')}
                      </MenuItem>
                      <MenuItem icon="star" onSelect={() => (close(), void meeting.makeHost(person.participant_id))}>
                        {t('host.makeHost')}
                      </MenuItem>
                      {transcription?.enabled ? (
                        <MenuItem
                          icon="transcript"
                          onSelect={() => (close(), void meeting.transcript.designate(person.participant_id))}
                        >
                          {t('host.makeTranscriber')}
                        </MenuItem>
                      ) : null}
                      <MenuItem icon="personRemove" danger onSelect={() => (close(), setRemoving(person))}>
                        {t('host.remove')}
                      </MenuItem>
                    </>
                  )}
                </Menu>
              ) : null}
            </li>
          );
        })}
      </ul>
      {removing ? (
        <ConfirmDialog
          text={t('host.removeConfirm', { name: removing.display_name })}
          confirm={t('host.remove')}
          onCancel={() => setRemoving(null)}
          onConfirm={() => {
            void meeting.removeParticipant(removing.participant_id);
            setRemoving(null);
          }}
        />
      ) : null}
    </div>
  );
}
