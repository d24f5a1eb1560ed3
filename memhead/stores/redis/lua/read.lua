#!lua flags=no-writes
-- KEYS: session; ARGV: message prefix, mode ('window' | 'history' | 'span'), a, b
--   window: a = size; history: a = before seq ('' for none), b = limit;
--   span: a = after seq, b = through seq
-- Returns {session HGETALL, messages...} (newest first, oldest first for span), or {}.
local s = redis.call('HGETALL', KEYS[1])
if #s == 0 then return {} end
local h = {}
for i = 1, #s, 2 do h[s[i]] = s[i + 1] end
local last, upto = tonumber(h.last_seq), tonumber(h.upto_seq)
local mode, step = ARGV[2], -1
local from, to
if mode == 'window' then
  from, to = last, math.max(upto + 1, last - tonumber(ARGV[3]) + 1)
elseif mode == 'history' then
  from = last
  if ARGV[3] ~= '' then from = math.min(last, tonumber(ARGV[3]) - 1) end
  to = math.max(1, from - tonumber(ARGV[4]) + 1)
else
  from, to, step = tonumber(ARGV[3]) + 1, math.min(last, tonumber(ARGV[4])), 1
end
local out = {s}
for seq = from, to, step do
  local m = redis.call('HMGET', ARGV[1] .. seq,
    'seq', 'role', 'content', 'created_at', 'client_id', 'metadata')
  if m[1] then out[#out + 1] = m end
end
return out
