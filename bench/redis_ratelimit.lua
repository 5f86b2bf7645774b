-- bench/redis_ratelimit.lua — the Redis equivalent of auth_rl_hit, run with
--   EVALSHA <sha> 1 <key> <window_seconds> <max>
-- Same fixed-window semantics: no state -> 1, allowed; elapsed >= window ->
-- reset to 1, allowed; count >= max -> denied, state unchanged; else count+1.
-- State is a hash {c = count, l = last allowed hit in µs}, expiring one
-- window after the last allowed hit.  Returns {allowed, count, remaining,
-- retry_after_µs}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1]) * 1000000
local max = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'c', 'l')
local c, l = tonumber(s[1]), tonumber(s[2])
if c == nil or now - l >= window then
  c = 1
elseif c >= max then
  return {0, c, 0, l + window - now}
else
  c = c + 1
end
redis.call('HSET', KEYS[1], 'c', c, 'l', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return {1, c, max - c, 0}
