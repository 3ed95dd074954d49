-- Per-safe screen video settings for graphical (RDP) sessions: the codec (H.264, or AV1 with
-- screen-content tools: about a third of the size, several times the CPU), the frame-rate cap
-- (changed frames only, at most this many a second) and the quality preset (low / standard /
-- high). Smaller videos for long retention, sharper ones where auditors read small text.
ALTER TABLE safes
  ADD COLUMN video_codec text NOT NULL DEFAULT 'h264' CHECK (video_codec IN ('h264', 'av1')),
  ADD COLUMN video_max_fps smallint NOT NULL DEFAULT 5 CHECK (video_max_fps BETWEEN 1 AND 30),
  ADD COLUMN video_quality text NOT NULL DEFAULT 'standard' CHECK (video_quality IN ('low', 'standard', 'high'));
