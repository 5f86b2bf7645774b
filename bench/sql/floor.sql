-- The floor: the cheapest statement a client can send.  Every other workload
-- is compared with it at the same client count.
SELECT 1;
