-- Per-safe screen video settings for graphical (RDP) sessions: the codec (AV1 with screen-content
-- tools by default: about a quarter of H.264's size for text screens, for ~10 % of a core while
-- the screen changes; H.264 where CPU is scarcer than storage), the frame-rate cap
-- (changed frames only, at most this many a second) and the quality preset (low / standard /
-- high). Smaller videos for long retention, sharper ones where auditors read small text.
ALTER TABLE safes
  ADD COLUMN video_codec text NOT NULL DEFAULT 'av1' CHECK (video_codec IN ('h264', 'av1')),
  ADD COLUMN video_max_fps smallint NOT NULL DEFAULT 5 CHECK (video_max_fps BETWEEN 1 AND 30),
  ADD COLUMN video_quality text NOT NULL DEFAULT 'standard' CHECK (video_quality IN ('low', 'standard', 'high'));
